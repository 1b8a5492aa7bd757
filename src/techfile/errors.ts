/** Errors of the technical file. Each names what is missing or wrong, so the maker knows what to fix. */
import { BulwarkError } from '../errors/index.ts';

/** Stable codes a TechfileError carries. */
export type TechfileErrorCode =
  | 'TECHFILE_ANNEX2_MISSING' // a CRA Annex II point has no information in its source
  | 'TECHFILE_ANNEX1_UNLINKED' // a CRA Annex I Part I item has neither a passing control nor a reason
  | 'TECHFILE_INPUT_INVALID' // an audit report, facts record or SBOM given is malformed or too large
  | 'TECHFILE_INPUT_UNREADABLE' // an input file is missing, not a regular file, or cannot be read
  | 'TECHFILE_INPUT_MISMATCH' // an input is about another model or version
  | 'TECHFILE_PROFILE_MISSING' // a maker's model with neither a profile nor an audit report to take one from
  | 'TECHFILE_OUT_EXISTS' // the output folder holds something that is not a technical file
  | 'TECHFILE_INVALID'; // a technical file fails its schema or its own cross-checks

/** Thrown when a technical file cannot be built, read or written; `details.items` names the items at fault. */
export class TechfileError extends BulwarkError<TechfileErrorCode> {}
