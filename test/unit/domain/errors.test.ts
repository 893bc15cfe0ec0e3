// The closed set of error codes and the two forms of an error (data and thrown).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChorusError, ERROR_CODES, errorInfo, isErrorCode } from '../../../src/domain/index.ts';

void test('the error codes are the gRPC names of docs/architecture.md section 4', () => {
  assert.deepEqual([...ERROR_CODES].sort(), [
    'ABORTED',
    'ALREADY_EXISTS',
    'DEADLINE_EXCEEDED',
    'FAILED_PRECONDITION',
    'INTERNAL',
    'INVALID_ARGUMENT',
    'NOT_FOUND',
    'PERMISSION_DENIED',
    'RESOURCE_EXHAUSTED',
    'UNAUTHENTICATED',
    'UNAVAILABLE',
  ]);
  assert.ok(isErrorCode('NOT_FOUND'));
  assert.ok(!isErrorCode('not_found'));
  assert.ok(!isErrorCode(404));
});

void test('errorInfo leaves out absent details', () => {
  assert.deepEqual(errorInfo('NOT_FOUND', 'gone'), { code: 'NOT_FOUND', message: 'gone' });
  assert.ok(!('details' in errorInfo('NOT_FOUND', 'gone')));
  assert.deepEqual(errorInfo('NOT_FOUND', 'gone', { id: 1 }), {
    code: 'NOT_FOUND',
    message: 'gone',
    details: { id: 1 },
  });
});

void test('ChorusError round-trips with ErrorInfo', () => {
  const info = errorInfo('FAILED_PRECONDITION', 'queue full', { maxQueueLength: 3 });
  const err = ChorusError.from(info);
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'ChorusError');
  assert.deepEqual(err.toInfo(), info);
  assert.deepEqual(new ChorusError('INTERNAL', 'x').toInfo(), { code: 'INTERNAL', message: 'x' });
});
