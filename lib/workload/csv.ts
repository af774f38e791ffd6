/**
 * Reading the shared traces' CSV tables: an RFC 4180 parser, rows with a checked header, typed
 * fields, and the grouping the trace converters need. Malformed input is an
 * EngineError('INVALID_TRACE') naming the source and line.
 */
import { EngineError } from '../errors.js';

/**
 * A small RFC 4180 CSV parser: comma-separated, fields optionally in double quotes (a quoted
 * field may hold commas, newlines and "" for a quote), records end in \n or \r\n. A trailing
 * newline does not make an empty record. Returns each record with the 1-based line it starts on.
 */
export function parseCsv(text: string): { fields: string[]; line: number }[] {
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let atFieldStart = true;
  let sawAny = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
      sawAny = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
      sawAny = true;
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      fields.push(field);
      if (sawAny || fields.length > 1 || field !== '') records.push({ fields, line: recordLine });
      fields = [];
      field = '';
      atFieldStart = true;
      sawAny = false;
      line++;
      recordLine = line;
    } else {
      field += c;
      atFieldStart = false;
      sawAny = true;
    }
  }
  if (quoted) throw new EngineError('INVALID_TRACE', `CSV: unterminated quoted field starting on line ${recordLine}`);
  if (sawAny || field !== '') {
    fields.push(field);
    records.push({ fields, line: recordLine });
  }
  return records;
}

export interface Row {
  line: number;
  get(column: string): string;
}

/** CSV with a header row → rows; checks the required columns and every row's width. */
export function csvRows(text: string, source: string, required: readonly string[]): Row[] {
  const records = parseCsv(text);
  if (records.length === 0) throw new EngineError('INVALID_TRACE', `${source}: empty CSV (no header)`);
  const header = records[0].fields.map((h) => h.trim());
  const index = new Map(header.map((h, i) => [h, i]));
  for (const column of required) {
    if (!index.has(column)) throw new EngineError('INVALID_TRACE', `${source}: missing column '${column}'`);
  }
  return records.slice(1).map(({ fields, line }) => {
    if (fields.length !== header.length) {
      throw new EngineError(
        'INVALID_TRACE',
        `${source}:${line}: ${fields.length} fields, the header has ${header.length}`,
      );
    }
    return { line, get: (column: string) => fields[index.get(column) as number] };
  });
}

export function intField(row: Row, column: string, source: string): number {
  const text = row.get(column).trim();
  const value = Number(text);
  if (text === '' || !Number.isSafeInteger(value) || value < 0) {
    throw new EngineError('INVALID_TRACE', `${source}:${row.line}: '${column}' must be a non-negative integer, got '${text}'`);
  }
  return value;
}

export function numberField(row: Row, column: string, source: string): number {
  const text = row.get(column).trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || value < 0) {
    throw new EngineError('INVALID_TRACE', `${source}:${row.line}: '${column}' must be a finite number ≥ 0, got '${text}'`);
  }
  return value;
}

/** Group rows by key in order of first appearance. */
export function groupBy(rows: Row[], key: (row: Row) => string): Row[][] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [row]);
    else group.push(row);
  }
  return [...groups.values()];
}

/** Sort a job's rows by an index column and check it runs 0, 1, 2, ... */
export function orderedSteps(rows: Row[], column: string, source: string, jobName: string): Row[] {
  const withIndex = rows.map((row) => ({ row, idx: intField(row, column, source) }));
  withIndex.sort((a, b) => a.idx - b.idx);
  withIndex.forEach(({ row, idx }, i) => {
    if (idx !== i) {
      throw new EngineError('INVALID_TRACE', `${source}:${row.line}: ${jobName}: '${column}' ${idx} where ${i} was expected`);
    }
  });
  return withIndex.map(({ row }) => row);
}
