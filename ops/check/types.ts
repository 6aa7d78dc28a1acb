// One finding of `pgcdc check`: what was checked, how bad it is, and what to do about it.
export type CheckLevel = 'OK' | 'INFO' | 'WARN' | 'ERROR';

export interface CheckResult {
  /** stable id, e.g. source.wal_level, target.peer.table */
  id: string;
  level: CheckLevel;
  message: string;
  fix?: string;
}

export const ok = (id: string, message: string): CheckResult => ({ id, level: 'OK', message });
export const info = (id: string, message: string, fix?: string): CheckResult =>
  fix ? { id, level: 'INFO', message, fix } : { id, level: 'INFO', message };
export const warn = (id: string, message: string, fix?: string): CheckResult =>
  fix ? { id, level: 'WARN', message, fix } : { id, level: 'WARN', message };
export const error = (id: string, message: string, fix: string): CheckResult => ({
  id,
  level: 'ERROR',
  message,
  fix,
});

export const errMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));
