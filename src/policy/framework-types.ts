/**
 * The shape every provision set beside ETSI and PSTI shares (NIST IR 8425, CRA Annex I and II,
 * PSA Certified, ioXt): a provision is an id, the public name, our paraphrase and an optional group.
 */

/** One provision of a framework. */
export interface FrameworkProvision<Id extends string = string> {
  readonly id: Id;
  /** The name the public text uses. */
  readonly name: string;
  /** Our paraphrase of what it asks (never the source's wording). */
  readonly paraphrase: string;
  /** A grouping the source itself makes, e.g. 'technical' or 'Part I'. */
  readonly group?: string;
}
