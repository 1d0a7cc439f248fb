import { report } from "./plugin";
import { Failure } from "./result";

// Set while reporting, so an abort raised by the reporting itself (out of
// memory, say) traps at once instead of recursing.
let reporting = false;

/**
 * AssemblyScript's `abort` (failed `assert`, `throw`, out-of-bounds access,
 * out of memory): reports `{"code":"panic"}` through Extism's error and
 * traps. Compile with
 * `--use abort=~lib/@polyplug/as-sdk/assembly/abort/panic`.
 */
export function panic(message: string | null, fileName: string | null, line: u32, column: u32): void {
  if (!reporting) {
    reporting = true;
    let text = message != null ? message : "abort";
    if (fileName != null) text += ` at ${fileName}:${line}:${column}`;
    report(new Failure("panic", text));
    reporting = false;
  }
  unreachable();
}
