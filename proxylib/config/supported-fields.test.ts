// The supported-field table names real fields of real types: a typo would otherwise make the
// walker refuse a field the proxy implements (or a renamed proto field slip into "unsupported").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { xdsRegistry } from '../../xds/index.js';
import { ACCEPTED_VALUES, SUPPORTED_FIELDS } from './supported-fields.js';

test('every type and field of the supported-field table exists in the Envoy protos', () => {
  const problems: string[] = [];
  for (const [typeName, fields] of Object.entries(SUPPORTED_FIELDS)) {
    const schema = xdsRegistry.getMessage(typeName);
    if (!schema) {
      problems.push(`${typeName}: no such message type`);
      continue;
    }
    for (const name of Object.keys(fields)) {
      const field = schema.fields.find((f) => f.name === name);
      if (!field) problems.push(`${typeName}.${name}: no such field`);
      else if (field.deprecated) problems.push(`${typeName}.${name}: deprecated; refuse it instead (the NACK rule)`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every field with accepted default values exists and is not also listed as supported', () => {
  const problems: string[] = [];
  for (const [typeName, fields] of Object.entries(ACCEPTED_VALUES)) {
    const schema = xdsRegistry.getMessage(typeName);
    for (const name of Object.keys(fields)) {
      if (!schema?.fields.some((f) => f.name === name)) problems.push(`${typeName}.${name}: no such field`);
      if (SUPPORTED_FIELDS[typeName]?.[name] !== undefined) problems.push(`${typeName}.${name}: also in SUPPORTED_FIELDS`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every message-typed field marked "yes" has rules for its type (or is a well-known type)', () => {
  const problems: string[] = [];
  for (const [typeName, fields] of Object.entries(SUPPORTED_FIELDS)) {
    const schema = xdsRegistry.getMessage(typeName);
    for (const [name, use] of Object.entries(fields)) {
      if (use !== 'yes') continue;
      const field = schema?.fields.find((f) => f.name === name);
      const nested = field?.fieldKind === 'message' ? field.message : field?.fieldKind === 'list' && field.listKind === 'message' ? field.message : field?.fieldKind === 'map' && field.mapKind === 'message' ? field.message : undefined;
      if (!nested || nested.typeName.startsWith('google.protobuf.')) continue;
      if (SUPPORTED_FIELDS[nested.typeName] === undefined) problems.push(`${typeName}.${name}: ${nested.typeName} has no rules`);
    }
  }
  assert.deepEqual(problems, []);
});
