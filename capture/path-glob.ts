/**
 * URL path globs for sampling filters: `*` matches within one segment, `**` across segments,
 * `?` one character. `/api/**` matches `/api` and everything below it.
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // "/**" at the end also matches the bare prefix.
      if (source.endsWith('/') && i + 2 === glob.length) source = `${source.slice(0, -1)}(?:/.*)?`;
      else source += '.*';
      i++;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
