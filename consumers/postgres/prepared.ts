// The PostgreSQL sink's named prepared statements, per connection: a statement whose text was run
// before on the connection is only bound and executed (PostgreSQL parses and plans it once; the
// set-based statements' texts depend on the columns only, never on the rows), up to a bounded
// number of texts per connection, unnamed beyond. Array parameters are sent as the literal
// node-postgres would make of them, built in one pass (batch-sql.ts arrayParam). A new connection
// starts with none (`clear`): prepared statements live as long as their connection.
import type pg from 'pg';
import { arrayParam } from './batch-sql.ts';
import type { Statement } from './sql.ts';

export class PreparedStatements {
  /** statement text -> name of its prepared statement on the current connection */
  private readonly names = new Map<string, string>();
  constructor(private readonly max = 64) {}

  run<R extends pg.QueryResultRow = pg.QueryResultRow>(c: pg.Client, s: Statement) {
    let name = this.names.get(s.text);
    if (name === undefined && this.names.size < this.max) {
      name = `pgcdc_${this.names.size + 1}`;
      this.names.set(s.text, name);
    }
    const values = s.values.map((v) => (Array.isArray(v) ? (arrayParam(v) ?? v) : v));
    return c.query<R>({ text: s.text, values, ...(name !== undefined && { name }) });
  }

  /** the connection is new: nothing is prepared on it */
  clear(): void {
    this.names.clear();
  }
}
