export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** kafkajs wraps the failure that ended its retries (a refused connection, a timeout) as non-retriable; the original says whether it may pass. */
export function isTransient(error: unknown): boolean {
  let root = error as { retriable?: boolean; name?: string; cause?: unknown } | undefined;
  while (root?.cause) root = root.cause as typeof root;
  return root?.retriable === true || (error as Error)?.name === 'KafkaJSNumberOfRetriesExceeded';
}
