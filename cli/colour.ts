// Whether human-readable output may use colour: never when NO_COLOR is set (https://no-color.org),
// always when FORCE_COLOR is set (and not "0"), otherwise only on a terminal. Pure: the caller
// passes the environment and whether the stream is a TTY. `--pretty` chooses the log format, not
// colour: pretty logs into a file or a pipe, or with NO_COLOR, carry no escape codes.
export function useColour(env: NodeJS.ProcessEnv, isTTY: boolean | undefined): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return isTTY === true;
}
