import { describe, expect, it } from 'vitest';
import { interpolate, parsePsqlScript, PsqlScriptSyntaxError, type ScriptItem } from '../../src/db/psql-script.ts';

const vars = new Map([
  ['name', "o'brien"],
  ['role', 'Trading User'],
  ['n', '42'],
]);
const statements = (items: ScriptItem[]) => items.filter((item) => item.kind === 'statement').map((item) => (item.kind === 'statement' ? interpolate(item.parts, vars).trim() : ''));

describe('parsePsqlScript', () => {
  it('splits statements on semicolons outside quotes, dollar quotes and comments', () => {
    const items = parsePsqlScript(
      "SELECT 'a;b';\n-- c;d\nDO $body$ BEGIN PERFORM 1; END $body$;\n/* x; /* nested; */ y; */ SELECT \"we;ird\";\nSELECT E'it\\'s;'",
      'x.sql',
    );
    expect(statements(items)).toEqual([
      "SELECT 'a;b';",
      '-- c;d\nDO $body$ BEGIN PERFORM 1; END $body$;',
      '/* x; /* nested; */ y; */ SELECT "we;ird";',
      "SELECT E'it\\'s;'",
    ]);
  });

  it('interpolates variables like psql: literal, identifier, raw and defined-ness, but not inside quotes', () => {
    const items = parsePsqlScript("SELECT :'name', :\"role\", :n, :{?n}, :{?missing}, ':n', $$ :n $$, 1::int, :unknown;", 'x.sql');
    expect(statements(items)).toEqual(["SELECT 'o''brien', \"Trading User\", 42, TRUE, FALSE, ':n', $$ :n $$, 1::int, :unknown;"]);
  });

  it('turns \\gexec into a statement whose rows are run, and keeps meta-commands in order', () => {
    const items = parsePsqlScript("\\set x 1\nSELECT 'CREATE TABLE t()'\n\\gexec\n\\if :{?x}\nSELECT 1;\n\\endif\n", 'x.sql');
    expect(items.map((item) => (item.kind === 'meta' ? `\\${item.command}` : item.gexec ? 'gexec' : 'sql'))).toEqual(['\\set', 'gexec', '\\if', 'sql', '\\endif']);
  });

  it('records the line of each statement for error messages', () => {
    const items = parsePsqlScript('-- header\n\nSELECT 1;\n\n  SELECT\n  2;', 'x.sql');
    expect(items.map((item) => item.line)).toEqual([3, 5]);
  });

  it('refuses a psql command it does not support, naming it and the line', () => {
    expect(() => parsePsqlScript('SELECT 1;\n\\copy t from stdin\n', 'f.sql')).toThrow(PsqlScriptSyntaxError);
    expect(() => parsePsqlScript('SELECT 1;\n\\copy t from stdin\n', 'f.sql')).toThrow(/f\.sql:2: psql command \\copy is not supported/);
  });

  it('reports an unterminated string or dollar quote', () => {
    expect(() => parsePsqlScript("SELECT 'open", 'f.sql')).toThrow(/unterminated string/);
    expect(() => parsePsqlScript('DO $$ BEGIN', 'f.sql')).toThrow(/unterminated dollar-quoted string \$\$/);
  });
});
