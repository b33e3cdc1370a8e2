import { describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import { buildBatchRequest, parseBatchResponse } from '../../../src/integrations/erp/batch.js';

describe('the ERP adapter $batch bodies', () => {
  it('when a batch is built then it is CRLF multipart/mixed with a GET part and a nested change set', () => {
    const { contentType, body } = buildBatchRequest([
      { get: { method: 'GET', url: "A_OutbDeliveryHeader('80000001')" } },
      { changeset: [{ method: 'POST', url: 'YY1_ShipmentMilestone', json: { A: 1 }, contentId: 'c1' }] },
    ]);
    const boundary = /^multipart\/mixed; boundary=(batch_[0-9a-f-]{36})$/.exec(contentType)?.[1];
    expect(boundary).toBeDefined();
    expect(body.replace(/\r\n/g, '')).not.toContain('\n');
    expect(body.startsWith(`--${boundary}\r\nContent-Type: application/http\r\n`)).toBe(true);
    expect(body).toContain("\r\n\r\nGET A_OutbDeliveryHeader('80000001') HTTP/1.1\r\n");
    expect(body).toMatch(/Content-Type: multipart\/mixed; boundary=changeset_[0-9a-f-]{36}\r\n/);
    expect(body).toContain('Content-ID: c1\r\n\r\nPOST YY1_ShipmentMilestone HTTP/1.1\r\n');
    expect(body).toContain('content-length: 7\r\n\r\n{"A":1}\r\n--changeset_');
    expect(body.endsWith(`--${boundary}--\r\n`)).toBe(true);
  });

  it('when an answer holds a committed change set and a failed one then each reads with its status and body', () => {
    const answer = [
      '--b',
      'Content-Type: multipart/mixed; boundary=cs',
      '',
      '--cs',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 1',
      '',
      'HTTP/1.1 201 Created',
      'Content-Type: application/json',
      '',
      '{"d":{"X":1}}',
      '--cs--',
      '--b',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      'HTTP/1.1 400 Bad Request',
      'Content-Type: application/json',
      '',
      '{"error":{"code":"C"}}',
      '--b--',
      '',
    ].join('\r\n');
    expect(parseBatchResponse('multipart/mixed; boundary=b', answer)).toEqual([
      {
        committed: true,
        responses: [
          {
            status: 201,
            headers: { 'content-type': 'application/json' },
            data: { d: { X: 1 } },
            contentId: '1',
          },
        ],
      },
      {
        committed: false,
        responses: [
          { status: 400, headers: { 'content-type': 'application/json' }, data: { error: { code: 'C' } } },
        ],
      },
    ]);
  });

  it('when an answer is not a readable batch then it is VALIDATION_FAILED naming $batch', () => {
    for (const [type, body] of [
      ['application/json', '{}'],
      ['multipart/mixed; boundary=b', '--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n'],
      ['multipart/mixed; boundary=b', '--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--'],
    ] as const) {
      let err: unknown;
      try {
        parseBatchResponse(type, body);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ShipsyncError);
      expect([(err as ShipsyncError).code, (err as ShipsyncError).details.field]).toEqual([
        'VALIDATION_FAILED',
        '$batch',
      ]);
    }
  });
});
