/** S3 event notifications exactly as S3 sends them to Lambda. */
import { encodeS3Key } from "../../handler/keys.js";

/**
 * One record. Give the object's real `eTag` as S3 does: the function skips an event whose ETag is
 * not the object's (superseded). Without one the record means "the object there now".
 */
export function s3Record(bucket: string, key: string, size: number, eTag?: string) {
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: "us-east-1",
    eventTime: new Date().toISOString(),
    eventName: "ObjectCreated:Put",
    userIdentity: { principalId: "AWS:AIDAEXAMPLE" },
    requestParameters: { sourceIPAddress: "127.0.0.1" },
    responseElements: { "x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD" },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: "imgfn-test-uploads",
      bucket: { name: bucket, ownerIdentity: { principalId: "A3NL1KOZZKExample" }, arn: `arn:aws:s3:::${bucket}` },
      object: { key: encodeS3Key(key), size, ...(eTag ? { eTag } : {}), sequencer: "0055AED6DCD90281E5" },
    },
  };
}

export const s3Event = (...records: ReturnType<typeof s3Record>[]) => ({ Records: records });
