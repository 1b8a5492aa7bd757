/**
 * CSAF 2.0 advisories read as input: the product tree's npm products (purls in
 * `product_identification_helper`, versions in the purl or a `product_version_range` branch's
 * `vers:` range) and, per vulnerability, the products `product_status` lists as affected. Each
 * vulnerability becomes one advisory. Pure.
 */
import {
  ADVISORY_FORMAT,
  VULN_ID,
  advisoryLimits as L,
  checkedVersion,
  invalidAdvisory,
  parseVers,
  type Advisory,
  type AffectedPackage,
} from './advisory.ts';
import { npmPurl, parseNpmPurl } from './purl.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Limits of a CSAF document's product tree. */
export const csafInputLimits = {
  /** Products (branches, full product names and relationships) in one tree. */
  maxProducts: 100_000,
  /** Depth of nested branches. */
  maxBranchDepth: 30,
  /** Vulnerabilities of one document. */
  maxVulnerabilities: 10_000,
} as const;

/** True when `doc` is a CSAF 2.0 document. */
export function isCsafDocument(doc: unknown): boolean {
  return isObject(doc) && isObject(doc.document) && doc.document.csaf_version === '2.0';
}

/** An npm product of the tree: its package, and either one version or a range. */
type NpmProduct = { name: string; version?: string; vers?: string };

function productOf(p: unknown, vers: string | undefined): [string, NpmProduct] | undefined {
  if (!isObject(p) || typeof p.product_id !== 'string') return undefined;
  const helper = p.product_identification_helper;
  const purl = isObject(helper) ? parseNpmPurl(helper.purl) : undefined;
  if (!purl) return undefined;
  return [
    p.product_id,
    { name: purl.name, ...(purl.version ? { version: purl.version } : {}), ...(vers ? { vers } : {}) },
  ];
}

/** The tree's npm products by product id. */
function npmProducts(tree: unknown, where: string): Map<string, NpmProduct> {
  const out = new Map<string, NpmProduct>();
  let seen = 0;
  const add = (entry: [string, NpmProduct] | undefined): void => {
    if (++seen > csafInputLimits.maxProducts)
      throw invalidAdvisory(where, `more than ${csafInputLimits.maxProducts} products`);
    if (entry) out.set(entry[0], entry[1]);
  };
  const walk = (branches: unknown, depth: number): void => {
    if (branches === undefined) return;
    if (!Array.isArray(branches)) throw invalidAdvisory(`${where}: product_tree`, 'branches must be a list');
    if (depth > csafInputLimits.maxBranchDepth)
      throw invalidAdvisory(`${where}: product_tree`, 'branches nest too deep');
    for (const b of branches as unknown[]) {
      if (!isObject(b)) throw invalidAdvisory(`${where}: product_tree`, 'a branch must be an object');
      const range = b.category === 'product_version_range' && typeof b.name === 'string' ? b.name : undefined;
      if (b.product !== undefined) add(productOf(b.product, range));
      walk(b.branches, depth + 1);
    }
  };
  if (!isObject(tree)) return out;
  walk(tree.branches, 1);
  for (const p of Array.isArray(tree.full_product_names) ? tree.full_product_names : []) add(productOf(p, undefined));
  for (const r of Array.isArray(tree.relationships) ? tree.relationships : [])
    if (isObject(r)) add(productOf(r.full_product_name, undefined));
  return out;
}

function affectedOf(ids: readonly string[], products: Map<string, NpmProduct>, where: string): AffectedPackage[] {
  const byName = new Map<string, { versions: string[]; vers: string[] }>();
  for (const id of ids) {
    const p = products.get(id);
    if (!p) continue;
    const entry = byName.get(p.name) ?? { versions: [], vers: [] };
    if (p.vers) entry.vers.push(p.vers);
    else if (p.version) entry.versions.push(p.version);
    byName.set(p.name, entry);
  }
  return [...byName].map(([name, e]) => ({
    name,
    purl: npmPurl(name),
    ranges: e.vers.map((v) => parseVers(v, `${where} (${name})`)),
    versions: e.versions.map((v) => checkedVersion(v, `${where} (${name})`)),
  }));
}

function idsOf(v: Json, fallback: string, where: string): { id: string; aliases: string[] } {
  const ids = (Array.isArray(v.ids) ? v.ids : [])
    .map((x) => (isObject(x) && typeof x.text === 'string' ? x.text : undefined))
    .filter((x): x is string => x !== undefined && VULN_ID.test(x));
  const all = [...(typeof v.cve === 'string' ? [v.cve] : []), ...ids].slice(0, L.maxAliases);
  if (all.length === 0 && !VULN_ID.test(fallback)) throw invalidAdvisory(where, 'a vulnerability needs a cve or ids');
  const [id, ...aliases] = all.length ? all : [fallback];
  if (!VULN_ID.test(id!)) throw invalidAdvisory(where, `the id ${JSON.stringify(id!.slice(0, 40))} is not usable`);
  return { id: id!, aliases };
}

function statusIds(v: Json): string[] {
  const s = isObject(v.product_status) ? v.product_status : {};
  return ['known_affected', 'first_affected', 'last_affected'].flatMap((k) =>
    Array.isArray(s[k]) ? (s[k] as unknown[]).filter((x): x is string => typeof x === 'string') : [],
  );
}

/**
 * Reads a CSAF 2.0 document: one advisory per vulnerability that names affected npm products.
 * @throws VulnError 'VULN_ADVISORY_INVALID'
 */
export function parseCsafAdvisories(doc: unknown, where = 'advisory'): Advisory[] {
  if (!isCsafDocument(doc)) throw invalidAdvisory(where, 'not a CSAF 2.0 document (document.csaf_version)');
  const d = doc as { document: Json; product_tree?: unknown; vulnerabilities?: unknown };
  const tracking = isObject(d.document.tracking) ? d.document.tracking : {};
  const trackingId = typeof tracking.id === 'string' ? tracking.id : '';
  const products = npmProducts(d.product_tree, where);
  const vulns = Array.isArray(d.vulnerabilities) ? d.vulnerabilities : [];
  if (vulns.length > csafInputLimits.maxVulnerabilities) throw invalidAdvisory(where, 'too many vulnerabilities');
  return vulns.map((v: unknown, i): Advisory => {
    const at = `${where}: vulnerabilities[${i}]`;
    if (!isObject(v)) throw invalidAdvisory(at, 'must be an object');
    const { id, aliases } = idsOf(v, `${trackingId}-${i + 1}`, at);
    const title = typeof v.title === 'string' ? v.title : typeof d.document.title === 'string' ? d.document.title : id;
    return {
      format: ADVISORY_FORMAT,
      id,
      aliases: VULN_ID.test(trackingId) && trackingId !== id ? [...aliases, trackingId] : aliases,
      summary: title.slice(0, L.maxSummaryLength),
      source: 'csaf',
      ...(typeof tracking.current_release_date === 'string'
        ? { modified: tracking.current_release_date.slice(0, 64) }
        : {}),
      references: [],
      affected: affectedOf(statusIds(v), products, at),
    };
  });
}
