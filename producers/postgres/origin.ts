// No echo in a mesh of peers (docs/peers.md): a change that pgcdc applied at this database was
// marked with a replication origin by the applying session (consumers/peer/origin.ts), and the
// producer of this database must not publish it again. PostgreSQL 16+ filters such transactions in
// the server when START_REPLICATION asks for `origin 'none'`; PostgreSQL 15 sends them with an
// Origin message ('O') right after their Begin, so this filter drops their row changes here. Begin
// and Commit still pass: the assembler emits the commit, and the position advances past a skipped
// transaction exactly as past a published one (the acknowledgement rule is unchanged). Pure.
import type { Pgoutput } from 'pg-logical-replication';

/** First server version (server_version_num) whose pgoutput understands the `origin` option. */
export const ORIGIN_OPTION_SINCE = 160000;

/** The START_REPLICATION option that filters origin-marked transactions in the server, if it has one. */
export function originOption(serverVersionNum: number): string | undefined {
  return serverVersionNum >= ORIGIN_OPTION_SINCE ? `origin 'none'` : undefined;
}

/**
 * Drops the changes of transactions that carry a replication origin (applied by a peer's sink).
 * `pass(msg)` says whether a message goes on to the assembler.
 */
export class OriginFilter {
  private foreign = false;
  /** transactions skipped so far (for the log and tests) */
  skipped = 0;

  pass(msg: Pgoutput.Message): boolean {
    switch (msg.tag) {
      case 'begin':
        this.foreign = false;
        return true;
      case 'origin':
        if (!this.foreign) this.skipped++;
        this.foreign = true;
        return false;
      case 'commit':
        this.foreign = false;
        return true;
      case 'insert':
      case 'update':
      case 'delete':
      case 'truncate':
        return !this.foreign;
      case 'message':
        // heartbeats and watermarks are non-transactional: never part of an applied transaction
        return msg.transactional ? !this.foreign : true;
      case 'relation':
      case 'type':
        // schema messages keep the parser's relation cache whole, whoever sent the change
        return true;
      default:
        return msg satisfies never;
    }
  }
}
