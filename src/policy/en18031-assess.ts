/**
 * Every EN 18031 requirement of every part, walked with a product's evidence. A part that does not apply to the
 * product gives each of its requirements NOT APPLICABLE with a one-step path: the fact that rules the part out.
 *
 * @example
 *   const results = assessEn18031({ checks, facts: en18031Facts(profile, model) });
 *   results.filter((r) => r.outcome === 'fail');
 */
import {
  EN18031_PARTS,
  EN18031_PART_SCOPES,
  EN18031_REQUIREMENTS,
  type En18031Part,
  type En18031Requirement,
} from './en18031.ts';
import { EN18031_TREES } from './en18031-trees.ts';
import {
  answerNode,
  walkEn18031Tree,
  type En18031Evidence,
  type En18031Step,
  type En18031Verdict,
} from './en18031-walk.ts';

/** One requirement of one part, assessed. */
export interface En18031Result {
  readonly id: string;
  readonly title: string;
  readonly part: En18031Part;
  readonly outcome: En18031Verdict;
  /** The steps taken: the part's scope question first, then the requirement's tree. */
  readonly path: readonly En18031Step[];
}

/** Whether one part applies, with the step that decided it. */
export interface En18031PartResult {
  readonly part: En18031Part;
  readonly applies: boolean | 'not known';
  readonly step: En18031Step;
}

/** Whether each part applies to the product the evidence describes. */
export function en18031PartScopes(evidence: En18031Evidence): En18031PartResult[] {
  return EN18031_PARTS.map((part) => {
    const scope = EN18031_PART_SCOPES[part];
    const node = { id: `EN 18031-${part}`, question: scope.question, evidence: [{ fact: scope.fact }] } as const;
    const { answer, values } = answerNode({ ...node, yes: { outcome: 'pass' }, no: { outcome: 'pass' } }, evidence);
    const applies = answer === 'not known' ? 'not known' : answer === 'yes';
    const then = applies === true ? 'DN-1' : applies === false ? 'not-applicable' : 'not tested';
    return { part, applies, step: { node: node.id, question: node.question, evidence: values, answer, then } };
  });
}

function assessOne(req: En18031Requirement, scope: En18031PartResult, evidence: En18031Evidence): En18031Result {
  const base = { id: req.id, title: req.title, part: scope.part };
  if (scope.applies === false) return { ...base, outcome: 'not-applicable', path: [scope.step] };
  if (scope.applies === 'not known') return { ...base, outcome: 'not-tested', path: [scope.step] };
  const tree = EN18031_TREES.get(req.id);
  if (tree === undefined) throw new Error(`EN 18031 requirement ${req.id} has no decision tree`);
  const walk = walkEn18031Tree(tree, evidence);
  return { ...base, outcome: walk.outcome, path: [scope.step, ...walk.path] };
}

/** Every requirement of every part, in part order then table-of-contents order. Pure. */
export function assessEn18031(evidence: En18031Evidence): En18031Result[] {
  return en18031PartScopes(evidence).flatMap((scope) =>
    EN18031_REQUIREMENTS.filter((r) => r.parts.includes(scope.part)).map((r) => assessOne(r, scope, evidence)),
  );
}
