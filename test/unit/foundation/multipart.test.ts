import { describe, expect, it } from 'vitest';
import { splitMultipart } from '../../../src/platform/multipart.js';

const fail = (reason: string) => new Error(`bad: ${reason}`);

describe('splitting a multipart body', () => {
  it('when a body has a preamble, two parts and an epilogue then only the two parts come back', () => {
    const body = 'preamble\r\n--b1\r\nContent-Type: a\r\n\r\none\r\n--b1 \r\n\r\ntwo\r\n--b1--\r\nepilogue';
    expect(splitMultipart(body, 'b1', fail)).toEqual(['Content-Type: a\r\n\r\none', '\r\ntwo']);
  });

  it('when the first delimiter is the close delimiter then there are no parts', () => {
    expect(splitMultipart('--b1--\r\n', 'b1', fail)).toEqual([]);
  });

  it('when a boundary holds regular-expression characters then it is matched literally', () => {
    expect(splitMultipart('--a.b+c\nx\n--a.b+c--', 'a.b+c', fail)).toEqual(['x']);
    expect(() => splitMultipart('--aXb\nx\n--aXb--', 'a.b', fail)).toThrow('bad: no delimiter line --a.b');
  });

  it('when the close delimiter is missing then the caller gets its own error with the reason', () => {
    expect(() => splitMultipart('--b1\r\none\r\n--b1\r\ntwo', 'b1', fail)).toThrow(
      'bad: the close delimiter --b1-- is missing',
    );
  });
});
