/** Says once, in one line, why the emulator suite is skipped on a machine without moto (CI requires it: .ci/run). */
import { motoUnavailable } from "../helpers/moto.js";

export default function setup(): void {
  const reason = motoUnavailable();
  if (reason) console.log(`test/emulator skipped: ${reason}`);
}
