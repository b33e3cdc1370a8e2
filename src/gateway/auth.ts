import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Role } from '../platform/config.js';
import { GatewayError } from './errors.js';

/** Roles allowed on read-only routes: every role. */
export const READ_ROLES: readonly Role[] = ['dispatcher', 'agent', 'finance', 'admin'];
/** Roles allowed on dead-letter routes. */
export const ADMIN_ROLES: readonly Role[] = ['admin'];

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** True when two secrets are equal, compared in constant time (hashing first hides their lengths). */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = value ? /^Bearer[ \t]+([\x21-\x7e]{1,512})[ \t]*$/i.exec(value) : null;
  return m?.[1];
}

/** Resolves bearer tokens to roles without leaking, by timing, which tokens exist. */
export class TokenRoles {
  private readonly entries: { hash: Buffer; role: Role }[];
  constructor(tokens: Record<string, Role>) {
    this.entries = Object.entries(tokens).map(([token, role]) => ({ hash: digest(token), role }));
  }

  /** The role of a token, or undefined when it is unknown. */
  roleOf(token: string | undefined): Role | undefined {
    if (token === undefined) return undefined;
    const h = digest(token);
    let found: Role | undefined;
    // Every entry is compared so the time taken does not depend on which one matched.
    for (const e of this.entries) if (timingSafeEqual(h, e.hash)) found = e.role;
    return found;
  }

  /** A fastify onRequest hook that lets through only callers holding one of the roles. */
  require(roles: readonly Role[]) {
    return async (req: FastifyRequest) => {
      const token = bearerToken(req.headers.authorization);
      if (!token) throw new GatewayError('UNAUTHENTICATED', 'send Authorization: Bearer <token>');
      const role = this.roleOf(token);
      if (!role) throw new GatewayError('UNAUTHENTICATED', 'unknown bearer token');
      if (!roles.includes(role))
        throw new GatewayError(
          'FORBIDDEN',
          `role ${role} may not use this route; allowed: ${roles.join(', ')}`,
        );
      (req as FastifyRequest & { role?: Role }).role = role;
    };
  }
}
