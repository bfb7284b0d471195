/** S3 key handling shared by the function and the CLI. */
import { createHash } from "node:crypto";

export interface KeyRules {
  inputPrefix: string;
  outputPrefix: string;
  /** Case-sensitive, as S3 notification filters are; empty means every key. */
  suffixes: string[];
}

/**
 * Keys in S3 event notifications are URL-encoded form values: a space arrives as "+", a real
 * "+" as "%2B". Decode "+" first, then the percent escapes.
 */
export function decodeS3Key(encoded: string): string {
  const spaced = encoded.replace(/\+/g, " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced; // malformed escape: keep the key as sent rather than failing the record
  }
}

/**
 * The inverse, as S3 writes keys into events: form encoding (Java's URLEncoder: only letters,
 * digits and . - * _ stay as they are, a space becomes "+"), with "/" kept.
 */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key)
    .replace(/%20/g, "+")
    .replace(/[!'()~]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%2F/g, "/");
}

/** Why the function must not process this key, or undefined when it should. */
export function skipReason(key: string, rules: KeyRules): string | undefined {
  if (rules.outputPrefix && key.startsWith(rules.outputPrefix)) {
    return `key is inside the output prefix "${rules.outputPrefix}" (processing it would retrigger the function)`;
  }
  if (!key.startsWith(rules.inputPrefix)) return `key is outside the input prefix "${rules.inputPrefix}"`;
  if (rules.suffixes.length > 0 && !rules.suffixes.some((s) => key.endsWith(s))) {
    return `key does not end with one of ${rules.suffixes.join(", ")}`;
  }
  if (key.endsWith("/")) return "key is a folder marker";
  return undefined;
}

/** S3 refuses keys longer than 1024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;
/** Under the output prefix: results whose natural key would be longer than S3 allows. */
export const LONG_KEYS_FOLDER = "_long-keys/";

/**
 * Where the result for `key` goes: `<outputPrefix><key without inputPrefix>.json`, or, when that
 * would exceed S3's key limit, `<outputPrefix>_long-keys/<sha256 of the key>.json` (short,
 * deterministic, so the CLI finds it the same way). `tooLong` says which.
 */
export function resultLocation(key: string, rules: KeyRules): { key: string; tooLong: boolean } {
  const natural = `${rules.outputPrefix}${key.slice(rules.inputPrefix.length)}.json`;
  if (Buffer.byteLength(natural, "utf8") <= MAX_KEY_BYTES) return { key: natural, tooLong: false };
  const digest = createHash("sha256").update(key, "utf8").digest("hex");
  return { key: `${rules.outputPrefix}${LONG_KEYS_FOLDER}${digest}.json`, tooLong: true };
}

export function outputKeyFor(key: string, rules: KeyRules): string {
  return resultLocation(key, rules).key;
}
