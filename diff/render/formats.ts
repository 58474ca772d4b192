import type { DiffReport } from '../report.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { renderText } from './text.js';

/** Every report format; `jsonl` is streamed pair by pair (jsonLinesWriter), the others render the finished report. */
export const reportFormats = ['text', 'json', 'jsonl', 'html', 'junit', 'md'] as const;
export type ReportFormat = (typeof reportFormats)[number];
export type WholeReportFormat = Exclude<ReportFormat, 'jsonl'>;

export interface RenderOptions {
  /** ANSI colours in the text format. */
  color?: boolean;
}

const renderers: Record<WholeReportFormat, (report: DiffReport, options: RenderOptions) => string> = {
  text: (report, options) => renderText(report, options),
  json: renderJson,
  html: renderHtml,
  junit: renderJunit,
  md: renderMarkdown,
};

export function renderReport(report: DiffReport, format: WholeReportFormat, options: RenderOptions = {}): string {
  return renderers[format](report, options);
}
