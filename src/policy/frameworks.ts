/**
 * The provision sets beside ETSI EN 303 645 and UK PSTI, as one table: CRA Annex I and Annex II,
 * NIST IR 8425, PSA Certified and the ioXt pledge. Each entry says where its names come from, its
 * provisions, the out-of-scope reasons, and which key of a control's provision references names it.
 *
 * @example
 *   FRAMEWORKS.map((f) => f.title); // ['EU CRA Annex I', 'EU CRA Annex II', 'NIST IR 8425', ...]
 */
import type { ProvisionRefs } from './catalogue.ts';
import { CRA_ANNEX1_OUT_OF_SCOPE, CRA_REQUIREMENTS } from './cra.ts';
import type { CraRequirementId } from './cra.ts';
import { CRA_ANNEX2_ITEMS, CRA_ANNEX2_OUT_OF_SCOPE } from './cra-annex2.ts';
import type { FrameworkProvision } from './framework-types.ts';
import { IOXT_OUT_OF_SCOPE, IOXT_PRINCIPLES } from './ioxt.ts';
import { NIST_OUTCOMES, NIST_OUT_OF_SCOPE } from './nist-ir8425.ts';
import { PSA_GOALS, PSA_OUT_OF_SCOPE } from './psa.ts';

/** The key of a framework in the catalogue's provision references and in the audit report. */
export type FrameworkKey = 'cra' | 'annex2' | 'nist' | 'psa' | 'ioxt';

/** One provision set. */
export interface Framework {
  readonly key: FrameworkKey;
  readonly title: string;
  /** Where the provision names come from, and whether the ids are the source's or ours. */
  readonly source: string;
  readonly provisions: readonly FrameworkProvision[];
  /** Why a provision no control names is out of scope, by provision id. */
  readonly outOfScope: Readonly<Record<string, string | undefined>>;
}

const CRA_ANNEX1: readonly FrameworkProvision<CraRequirementId>[] = (
  Object.entries(CRA_REQUIREMENTS) as [CraRequirementId, string][]
).map(([id, paraphrase]) => ({
  id,
  name: `Annex I ${id}`,
  paraphrase,
  group: id.startsWith('I.') ? 'Part I' : 'Part II',
}));

/** Every framework beside ETSI and PSTI, in report order. */
export const FRAMEWORKS: readonly Framework[] = [
  {
    key: 'cra',
    title: 'EU CRA Annex I',
    source: 'Regulation (EU) 2024/2847 Annex I, Parts I and II; ids follow its numbering.',
    provisions: CRA_ANNEX1,
    outOfScope: CRA_ANNEX1_OUT_OF_SCOPE,
  },
  {
    key: 'annex2',
    title: 'EU CRA Annex II',
    source: 'Regulation (EU) 2024/2847 Annex II, points 1-9 and 8(a)-(f); ids follow its numbering.',
    provisions: CRA_ANNEX2_ITEMS,
    outOfScope: CRA_ANNEX2_OUT_OF_SCOPE,
  },
  {
    key: 'nist',
    title: 'NIST IR 8425',
    source: 'NIST IR 8425 (2022) outcome names; the report gives no ids, so ids are slugs of the names.',
    provisions: NIST_OUTCOMES,
    outOfScope: NIST_OUT_OF_SCOPE,
  },
  {
    key: 'psa',
    title: 'PSA Certified security goals',
    source: 'The 10 security goals as PSA Certified publishes them; no public ids, so ids are slugs of the names.',
    provisions: PSA_GOALS,
    outOfScope: PSA_OUT_OF_SCOPE,
  },
  {
    key: 'ioxt',
    title: 'ioXt security pledge',
    source: 'The 8 principles of the ioXt Alliance pledge; no public ids, so ids are slugs of the names.',
    provisions: IOXT_PRINCIPLES,
    outOfScope: IOXT_OUT_OF_SCOPE,
  },
];

/** The provision ids a control's references name under `key`. */
export function referencedIds(refs: ProvisionRefs, key: FrameworkKey): readonly string[] {
  return refs[key] ?? [];
}

/** The framework with `key`; the type system guarantees it exists. */
export function getFramework(key: FrameworkKey): Framework {
  const framework = FRAMEWORKS.find((f) => f.key === key);
  if (framework === undefined) throw new RangeError(`no framework ${key}`); // unreachable for a FrameworkKey
  return framework;
}
