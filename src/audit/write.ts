/** Writing the reports: atomically, so a crash leaves the old report or the new one. */
import { writeFileAtomic } from '../storage/index.ts';
import { renderAuditHtml, renderAuditJson } from './html.ts';
import type { AuditReport } from './types.ts';

/** Writes the JSON and/or HTML report to the given paths. */
export async function writeAuditReports(
  report: AuditReport,
  paths: { readonly json?: string; readonly html?: string },
): Promise<void> {
  if (paths.json !== undefined) await writeFileAtomic(paths.json, renderAuditJson(report));
  if (paths.html !== undefined) await writeFileAtomic(paths.html, renderAuditHtml(report));
}
