/** The cloud link's error codes; it throws ConfigErrors and plain BulwarkErrors. */

/** Codes the cloud link throws. */
export type CloudLinkErrorCode =
  | 'CLOUDLINK_CONFIG_INVALID' // a cloud link setting is malformed
  | 'COMMAND_NOT_ALLOWED'; // a cloud command for a capability the cloud may not control
