/**
 * The decision trees' shape and their walker. A tree is pure data: decision nodes (DN-1, DN-2, ...), each asking one
 * question answered by named evidence (audit checks and product facts), each branch going to another node or to an
 * outcome. The walker is pure: evidence in, path and outcome out. Evidence that was not gathered ends the walk as
 * "not tested", never on a guess.
 *
 * @example
 *   const result = walkEn18031Tree(tree, { checks: new Map([['login.lockout', 'pass']]), facts });
 *   result.outcome; // 'pass' | 'fail' | 'not-applicable' | 'not-tested'
 */
import type { CheckId } from './catalogue.ts';
import type { En18031Fact, En18031FactId, En18031Facts } from './en18031.ts';

/** Where a tree ends. */
export type En18031Outcome = 'pass' | 'not-applicable' | 'fail';
/** What the walk concluded: an outcome, or 'not-tested' when evidence was missing on the way. */
export type En18031Verdict = En18031Outcome | 'not-tested';

/** A piece of evidence a node names: an audit check or a product fact. */
export type En18031EvidenceRef = { readonly check: CheckId } | { readonly fact: En18031FactId };

/** A branch: to another node, or to an outcome. */
export type En18031Branch = { readonly next: string } | { readonly outcome: En18031Outcome };

/** One decision node: "yes" when every piece of its evidence holds, "no" when one does not. */
export interface En18031Node {
  readonly id: string;
  readonly question: string;
  readonly evidence: readonly En18031EvidenceRef[];
  readonly yes: En18031Branch;
  readonly no: En18031Branch;
}

/** The decision tree of one requirement; the walk starts at the first node. */
export interface En18031Tree {
  readonly requirement: string;
  readonly nodes: readonly En18031Node[];
}

/** A check's status as the audit reports it ('declared': the maker's own statement, read but not tested). */
export type En18031CheckStatus = 'pass' | 'fail' | 'not-applicable' | 'not-tested' | 'declared';

/** The evidence a walk reads. */
export interface En18031Evidence {
  readonly checks: ReadonlyMap<CheckId, En18031CheckStatus>;
  readonly facts: En18031Facts;
}

/** The value one piece of evidence had at a node. */
export interface En18031EvidenceValue {
  /** 'check tls.versions' or 'fact web-admin'. */
  readonly name: string;
  /** pass, fail, not-applicable, not-tested, declared for a check; yes, no, not known for a fact. */
  readonly value: string;
  /** Where a fact comes from. */
  readonly source?: string;
}

/** One step of a path: the node, the evidence read, the answer and where it led. */
export interface En18031Step {
  readonly node: string;
  readonly question: string;
  readonly evidence: readonly En18031EvidenceValue[];
  readonly answer: 'yes' | 'no' | 'not known';
  /** The next node's id, or the outcome's name. */
  readonly then: string;
}

/** The result of a walk. */
export interface En18031Walk {
  readonly outcome: En18031Verdict;
  readonly path: readonly En18031Step[];
}

type Answer = En18031Step['answer'];

function readEvidence(
  ref: En18031EvidenceRef,
  evidence: En18031Evidence,
): { value: En18031EvidenceValue; a?: boolean } {
  if ('check' in ref) {
    const status = evidence.checks.get(ref.check) ?? 'not-tested';
    // A node that asks what the maker's documents say is answered by the statement itself: declared is a yes there.
    const a = status === 'pass' || status === 'declared' ? true : status === 'fail' ? false : undefined;
    return { value: { name: `check ${ref.check}`, value: status }, ...(a === undefined ? {} : { a }) };
  }
  const fact: En18031Fact | undefined = evidence.facts[ref.fact];
  if (fact === undefined) return { value: { name: `fact ${ref.fact}`, value: 'not known' } };
  return { value: { name: `fact ${ref.fact}`, value: fact.value ? 'yes' : 'no', source: fact.source }, a: fact.value };
}

/**
 * A node's answer: "no" as soon as one piece says no, "yes" when every piece says yes or does not concern the target
 * (a check the auditor found not applicable, e.g. no password to guess while the owner has not set one), else "not
 * known".
 */
export function answerNode(
  node: En18031Node,
  evidence: En18031Evidence,
): { answer: Answer; values: En18031EvidenceValue[] } {
  const read = node.evidence.map((ref) => readEvidence(ref, evidence));
  const values = read.map((r) => r.value);
  if (read.some((r) => r.a === false)) return { answer: 'no', values };
  const unknown = read.some((r) => r.a === undefined && r.value.value !== 'not-applicable');
  return { answer: unknown || read.length === 0 ? 'not known' : 'yes', values };
}

/** Walks a tree from its first node with the evidence given. Pure; a malformed tree (loop, dangling branch) throws. */
export function walkEn18031Tree(tree: En18031Tree, evidence: En18031Evidence): En18031Walk {
  const byId = new Map(tree.nodes.map((n) => [n.id, n]));
  const path: En18031Step[] = [];
  let node = tree.nodes[0];
  while (node !== undefined) {
    if (path.length >= tree.nodes.length) throw new Error(`${tree.requirement}: the tree loops at ${node.id}`);
    const { answer, values } = answerNode(node, evidence);
    const step = { node: node.id, question: node.question, evidence: values, answer };
    if (answer === 'not known') {
      path.push({ ...step, then: 'not tested' });
      return { outcome: 'not-tested', path };
    }
    const branch = answer === 'yes' ? node.yes : node.no;
    if ('outcome' in branch) {
      path.push({ ...step, then: branch.outcome });
      return { outcome: branch.outcome, path };
    }
    path.push({ ...step, then: branch.next });
    node = byId.get(branch.next);
    if (node === undefined) throw new Error(`${tree.requirement}: no node ${branch.next}`);
  }
  throw new Error(`${tree.requirement}: the tree has no nodes`);
}
