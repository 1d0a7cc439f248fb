import { logMessage, LogLevel } from "./extism";

/** Messages to the host's log; the host decides which levels it keeps. */
export namespace log {
  export function debug(message: string): void {
    logMessage(LogLevel.Debug, message);
  }

  export function info(message: string): void {
    logMessage(LogLevel.Info, message);
  }

  export function warn(message: string): void {
    logMessage(LogLevel.Warn, message);
  }

  export function error(message: string): void {
    logMessage(LogLevel.Error, message);
  }
}
