/**
 * The CSAF 2.0 security advisory a maker publishes about one vulnerability: the product tree of
 * its firmware releases (each with a purl), the vulnerability with its CVE or ids, the product
 * status the maker's VEX statements give each release, and the remediation naming the fixed
 * version. Pure and deterministic: the same statements give the same document.
 */
import type { Advisory } from './advisory.ts';
import type { StatedRelease, VexJustification, VexStatement } from './vex.ts';

/** Who publishes the advisory (CSAF `document.publisher`). */
export interface CsafPublisher {
  readonly name: string;
  /** The publisher's https URL (CSAF's namespace). */
  readonly namespace: string;
  readonly contactDetails?: string;
}

/** What {@link buildCsafAdvisory} needs. */
export interface CsafAdvisoryInput {
  readonly advisory: Advisory;
  /** Every statement about the vulnerability, oldest first (the last one decides; each is a revision). */
  readonly history: readonly VexStatement[];
  readonly publisher: CsafPublisher;
  readonly trackingId?: string;
  readonly tool: { readonly name: string; readonly version: string };
}

/** CSAF's flag for a justification where one says the same; the others are stated as an impact threat. */
const FLAG_OF: Partial<Record<VexJustification, string>> = {
  code_not_present: 'vulnerable_code_not_present',
  code_not_reachable: 'vulnerable_code_not_in_execute_path',
  protected_by_mitigating_control: 'inline_mitigations_already_exist',
};

/** The CSAF product id of a release. */
export function csafProductId(r: { model: string; version: string }): string {
  return `CSAFPID-${r.model}-${r.version}`;
}

function firmwarePurl(vendor: string, r: { model: string; version: string }): string {
  const ns = encodeURIComponent(vendor.toLowerCase().replace(/\s+/g, '-'));
  return `pkg:generic/${ns}/${encodeURIComponent(`${r.model}-firmware`)}@${encodeURIComponent(r.version)}`;
}

function uniqueReleases(s: VexStatement): StatedRelease[] {
  const seen = new Map<string, StatedRelease>();
  for (const r of [...s.releases, ...s.fixedIn]) seen.set(csafProductId(r), seen.get(csafProductId(r)) ?? r);
  return [...seen.values()];
}

function productTree(vendor: string, releases: readonly StatedRelease[]): Record<string, unknown> {
  const models = [...new Set(releases.map((r) => r.model))].sort();
  return {
    branches: [
      {
        category: 'vendor',
        name: vendor,
        branches: models.map((model) => ({
          category: 'product_name',
          name: `${model} firmware`,
          branches: releases
            .filter((r) => r.model === model)
            .map((r) => ({
              category: 'product_version',
              name: r.version,
              product: {
                product_id: csafProductId(r),
                name: `${vendor} ${model} firmware ${r.version}`,
                product_identification_helper: { purl: firmwarePurl(vendor, r) },
              },
            })),
        })),
      },
    ],
  };
}

const ids = (rs: readonly StatedRelease[]): string[] => rs.map(csafProductId);

function productStatus(s: VexStatement): Record<string, string[]> {
  const matched = ids(s.releases);
  const newer = ids(s.fixedIn);
  const status: Record<string, string[]> = {
    not_affected: { known_not_affected: [...matched, ...newer] },
    under_investigation: { under_investigation: matched, known_not_affected: newer },
    affected: { known_affected: matched, fixed: newer },
    fixed: { known_affected: matched, fixed: newer },
  }[s.status];
  return Object.fromEntries(Object.entries(status).filter(([, v]) => v.length > 0));
}

/** Per model, the oldest release that fixes it, as a vendor fix for the model's affected releases. */
function remediations(s: VexStatement): Array<Record<string, unknown>> {
  if (s.status !== 'affected' && s.status !== 'fixed') return [];
  const out: Array<Record<string, unknown>> = [];
  for (const model of [...new Set(s.releases.map((r) => r.model))].sort()) {
    const affected = s.releases.filter((r) => r.model === model);
    const fix = s.fixedIn.find((r) => r.model === model);
    out.push(
      fix
        ? {
            category: 'vendor_fix',
            details: `Update the ${model} firmware to version ${fix.version} or later.`,
            product_ids: ids(affected),
          }
        : {
            category: 'none_available',
            details: `No fixed ${model} firmware is published yet.`,
            product_ids: ids(affected),
          },
    );
  }
  return out;
}

function notAffectedStatements(s: VexStatement): Record<string, unknown> {
  if (s.status !== 'not_affected') return {};
  const products = [...ids(s.releases), ...ids(s.fixedIn)];
  const flag = s.justification ? FLAG_OF[s.justification] : undefined;
  const reason = s.justification?.replace(/_/g, ' ') ?? 'stated by the vendor';
  const why = `Not affected: ${reason}.${s.detail ? ' ' + s.detail : ''}`;
  return {
    ...(flag ? { flags: [{ label: flag, product_ids: products }] } : {}),
    threats: [{ category: 'impact', details: why, product_ids: products }],
  };
}

function vulnerabilityIds(a: Advisory): Record<string, unknown> {
  const all = [a.id, ...a.aliases];
  const cve = all.find((x) => /^CVE-\d{4}-\d{4,}$/.test(x));
  const others = [...new Set(all.filter((x) => x !== cve))];
  const system = (x: string): string => (x.startsWith('GHSA-') ? 'GitHub Advisory Database' : 'OSV');
  return {
    ...(cve ? { cve } : {}),
    ...(others.length ? { ids: others.map((text) => ({ system_name: system(text), text })) } : {}),
  };
}

function vulnerability(a: Advisory, s: VexStatement): Record<string, unknown> {
  const components = [
    ...new Set(s.releases.flatMap((r) => (r.package ? [`${r.package.name} ${r.package.version}`] : []))),
  ];
  const refs = a.references.filter((u) => /^https?:\/\//.test(u)).slice(0, 20);
  return {
    ...vulnerabilityIds(a),
    title: a.summary.slice(0, 200),
    notes: [
      {
        category: 'description',
        title: 'Affected component',
        text: `${a.summary} The releases listed as affected contain ${components.join(', ') || 'the component'}.`,
      },
    ],
    ...(refs.length ? { references: refs.map((url) => ({ category: 'external', summary: url, url })) } : {}),
    product_status: productStatus(s),
    ...(remediations(s).length ? { remediations: remediations(s) } : {}),
    ...notAffectedStatements(s),
  };
}

const words = (id: string): string => id.replace(/_/g, ' ');

/**
 * Builds the CSAF 2.0 security advisory (category csaf_security_advisory) of one vulnerability
 * from the maker's statements about it.
 * @example JSON.stringify(buildCsafAdvisory({ advisory, history, publisher, tool }))
 */
export function buildCsafAdvisory(o: CsafAdvisoryInput): Record<string, unknown> {
  const last = o.history.at(-1);
  if (!last) throw new Error('an advisory needs at least one statement');
  const revisions = o.history.map((s, i) => ({
    date: s.at,
    number: String(i + 1),
    summary: `Status: ${words(s.status)}${s.justification ? ` (${words(s.justification)})` : ''}.`,
  }));
  return {
    document: {
      category: 'csaf_security_advisory',
      csaf_version: '2.0',
      lang: 'en',
      title: `${o.publisher.name}: ${o.advisory.summary}`.slice(0, 300),
      publisher: {
        category: 'vendor',
        name: o.publisher.name,
        namespace: o.publisher.namespace,
        ...(o.publisher.contactDetails ? { contact_details: o.publisher.contactDetails } : {}),
      },
      distribution: { tlp: { label: 'WHITE', url: 'https://www.first.org/tlp/' } },
      notes: [{ category: 'summary', title: 'Summary', text: o.advisory.summary }],
      tracking: {
        id: o.trackingId ?? o.advisory.id,
        status: 'final',
        version: String(o.history.length),
        revision_history: revisions,
        initial_release_date: o.history[0]!.at,
        current_release_date: last.at,
        generator: { engine: { name: o.tool.name, version: o.tool.version } },
      },
    },
    product_tree: productTree(o.publisher.name, uniqueReleases(last)),
    vulnerabilities: [vulnerability(o.advisory, last)],
  };
}
