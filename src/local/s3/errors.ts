/** S3's error responses: the code, the HTTP status and the message S3 uses for each. */

const STATUS_AND_MESSAGE: Record<string, [number, string]> = {
  AccessDenied: [403, "Access Denied"],
  AuthorizationHeaderMalformed: [400, "The authorization header is malformed."],
  AuthorizationQueryParametersError: [400, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."],
  BadDigest: [400, "The Content-MD5 or checksum value that you specified did not match what the server received."],
  BucketAlreadyOwnedByYou: [409, "Your previous request to create the named bucket succeeded and you already own it."],
  BucketNotEmpty: [409, "The bucket you tried to delete is not empty"],
  EntityTooLarge: [400, "Your proposed upload exceeds the maximum allowed size"],
  EntityTooSmall: [400, "Your proposed upload is smaller than the minimum allowed object size."],
  IncompleteBody: [400, "You did not provide the number of bytes specified by the Content-Length HTTP header."],
  InternalError: [500, "We encountered an internal error. Please try again."],
  InvalidAccessKeyId: [403, "The AWS Access Key Id you provided does not exist in our records."],
  InvalidArgument: [400, "Invalid Argument"],
  InvalidBucketName: [400, "The specified bucket is not valid."],
  InvalidDigest: [400, "The Content-MD5 or checksum value you specified is not valid."],
  InvalidPart: [400, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."],
  InvalidPartOrder: [400, "The list of parts was not in ascending order. Parts must be ordered by part number."],
  InvalidRange: [416, "The requested range is not satisfiable"],
  InvalidRequest: [400, "Invalid Request"],
  InvalidURI: [400, "Couldn't parse the specified URI."],
  KeyTooLongError: [400, "Your key is too long"],
  MalformedXML: [400, "The XML you provided was not well-formed or did not validate against our published schema"],
  MetadataTooLarge: [400, "Your metadata headers exceed the maximum allowed metadata size."],
  MethodNotAllowed: [405, "The specified method is not allowed against this resource."],
  MissingContentLength: [411, "You must provide the Content-Length HTTP header."],
  NoSuchBucket: [404, "The specified bucket does not exist"],
  NoSuchKey: [404, "The specified key does not exist."],
  NoSuchUpload: [404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."],
  NoSuchVersion: [404, "The specified version does not exist."],
  NotImplemented: [501, "A header you provided implies functionality that is not implemented"],
  PreconditionFailed: [412, "At least one of the pre-conditions you specified did not hold"],
  RequestTimeTooSkewed: [403, "The difference between the request time and the current time is too large."],
  SignatureDoesNotMatch: [403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."],
  XAmzContentSHA256Mismatch: [400, "The provided 'x-amz-content-sha256' header does not match what was computed."],
};

export type S3ErrorCode = keyof typeof STATUS_AND_MESSAGE;

/** An S3 error: becomes S3's XML error document with S3's status. */
export class S3Error extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    message?: string,
    /** Extra elements of the error document (Key, BucketName, Resource, …). */
    readonly details: Record<string, string | number> = {},
  ) {
    const [status, standard] = STATUS_AND_MESSAGE[code] ?? [500, code];
    super(message ?? standard);
    this.status = status;
  }
}

/** A 304 Not Modified: not an error document, but it ends the request the same way. */
export class NotModified extends Error {
  constructor(readonly headers: Record<string, string>) {
    super("Not Modified");
  }
}
