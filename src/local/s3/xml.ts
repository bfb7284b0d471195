/** S3's XML: documents built and request bodies parsed with fast-xml-parser. */
import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { S3Error } from "./errors.js";

const NS = "http://s3.amazonaws.com/doc/2006-03-01/";
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", suppressEmptyNode: false, processEntities: true });
const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: false, isArray: (name) => name === "Object" || name === "Part" });

export type XmlValue = string | number | boolean | XmlValue[] | { [k: string]: XmlValue | undefined } | undefined;

/** `<Root xmlns=…>…</Root>` with the XML declaration; arrays become repeated elements. */
export function xmlDocument(root: string, body: Record<string, XmlValue>, opts: { namespace?: boolean } = {}): string {
  const content = opts.namespace === false ? body : { "@_xmlns": NS, ...body };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: strip(content) })}`;
}

/** Drops undefined members so they produce no element. */
function strip(v: XmlValue): XmlValue {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === "object") {
    const out: Record<string, XmlValue> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = strip(x);
    return out;
  }
  return v;
}

/** Parses a request body; a body that is not XML, or lacks the root, is MalformedXML. */
export function parseXml(text: string, root: string): Record<string, any> {
  let doc: Record<string, any>;
  try {
    doc = parser.parse(text, true);
  } catch {
    throw new S3Error("MalformedXML");
  }
  const top = doc?.[root];
  if (top === undefined || typeof top !== "object") throw new S3Error("MalformedXML");
  return top;
}

export function errorDocument(err: S3Error, requestId: string, extra: Record<string, string> = {}): string {
  return xmlDocument("Error", { Code: err.code, Message: err.message, ...extra, ...err.details, RequestId: requestId, HostId: requestId }, { namespace: false });
}
