/** S3 key handling shared by the function and the CLI. */

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

export function outputKeyFor(key: string, rules: KeyRules): string {
  return `${rules.outputPrefix}${key.slice(rules.inputPrefix.length)}.json`;
}
