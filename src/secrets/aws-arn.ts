/**
 * Secrets Manager ARNs. The AWS SDK ignores the region inside an ARN `SecretId` and asks the
 * client's region instead (aws-sdk-js-v3#7278), so we read the region out of the ARN ourselves.
 */

// arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME, in the commercial, China, GovCloud and ISO partitions.
const SECRET_ARN = /^arn:(aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?):secretsmanager:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):secret:([A-Za-z0-9/_+=.@-]+)$/;

export interface SecretArn {
  partition: string;
  region: string;
  account: string;
  /** The name with AWS's random six-character suffix, when the ARN is complete. */
  resource: string;
}

export function parseSecretArn(id: string): SecretArn | undefined {
  const m = SECRET_ARN.exec(id);
  if (!m) return undefined;
  return { partition: m[1] ?? '', region: m[2] ?? '', account: m[3] ?? '', resource: m[4] ?? '' };
}
