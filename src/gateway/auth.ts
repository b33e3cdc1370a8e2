import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { PrincipalConfig, Role } from '../platform/config.js';
import { GatewayError } from './errors.js';

/** Roles allowed on read-only shipment routes: every role. */
export const READ_ROLES: readonly Role[] = ['dispatcher', 'agent', 'finance', 'admin', 'auditor', 'ops'];
/** Roles allowed on dead-letter routes. */
export const ADMIN_ROLES: readonly Role[] = ['admin'];
/** Roles allowed to read the audit trail. */
export const AUDIT_ROLES: readonly Role[] = ['auditor', 'admin'];
/** Any authenticated principal, whatever its roles (/metrics and /docs in production). */
export const ANY_PRINCIPAL = 'any-principal' as const;

/** Who made a request: the principal its bearer token belongs to. */
export interface Principal {
  id: string;
  kind: 'person' | 'service';
  roles: readonly Role[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated principal (set by the route's auth hook, also when it then refuses the role). */
    principal?: Principal;
    /** The role under which the route let the principal through. */
    actingRole?: Role;
  }
}

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

/**
 * Resolves bearer tokens to principals. Only SHA-256 hashes of the tokens are held, so a memory or config
 * dump does not hand out usable tokens; every hash is compared, so timing does not tell which one matched.
 */
export class Principals {
  private readonly entries: { hash: Buffer; principal: Principal }[];
  constructor(list: readonly PrincipalConfig[]) {
    this.entries = list.flatMap((p) => {
      const principal: Principal = Object.freeze({
        id: p.id,
        kind: p.kind,
        roles: Object.freeze([...p.roles]),
      });
      return p.tokenSha256.map((h) => ({ hash: Buffer.from(h, 'hex'), principal }));
    });
  }

  /** How many principals are configured. */
  get size(): number {
    return new Set(this.entries.map((e) => e.principal.id)).size;
  }

  /** The principal of a token, or undefined when it is unknown. */
  resolve(token: string | undefined): Principal | undefined {
    if (token === undefined) return undefined;
    const h = digest(token);
    let found: Principal | undefined;
    for (const e of this.entries) if (timingSafeEqual(h, e.hash)) found = e.principal;
    return found;
  }

  /**
   * A fastify onRequest hook that lets through only principals holding one of the roles (or any principal).
   * The principal is kept on the request even when its role is refused, so the refusal can be audited.
   */
  require(roles: readonly Role[] | typeof ANY_PRINCIPAL, onUnknown?: () => void) {
    return async (req: FastifyRequest) => {
      const token = bearerToken(req.headers.authorization);
      if (!token) {
        onUnknown?.();
        throw new GatewayError('UNAUTHENTICATED', 'send Authorization: Bearer <token>');
      }
      const principal = this.resolve(token);
      if (!principal) {
        onUnknown?.();
        throw new GatewayError('UNAUTHENTICATED', 'unknown bearer token');
      }
      req.principal = principal;
      if (roles === ANY_PRINCIPAL) return;
      const acting = roles.find((r) => principal.roles.includes(r));
      if (!acting)
        throw new GatewayError(
          'FORBIDDEN',
          `${principal.id} (${principal.roles.join(', ') || 'no roles'}) may not use this route; allowed: ${roles.join(', ')}`,
        );
      req.actingRole = acting;
    };
  }
}
