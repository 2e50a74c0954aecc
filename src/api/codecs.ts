import * as t from 'io-ts';
import { isLeft, type Either, left, right } from 'fp-ts/lib/Either.js';
import { NodeName } from '../protocol/frames.js';
import { reportErrors } from '../protocol/report.js';

/**
 * io-ts codecs for everything the HTTP API reads from a request: path
 * parameters, the query of the status page and the login body. Each route
 * decodes through one of them before it touches a manager.
 */

interface UsernameBrand {
  readonly Username: unique symbol;
}
/** Who logs in: 1 to 128 characters, no control characters (issueApiToken's own rule). */
export const Username = t.brand(
  t.string,
  // eslint-disable-next-line no-control-regex
  (s): s is t.Branded<string, UsernameBrand> => s.length >= 1 && s.length <= 128 && !/[\u0000-\u001f\u007f]/.test(s),
  'Username',
);
export type Username = t.TypeOf<typeof Username>;

interface ActionNameBrand {
  readonly ActionName: unique symbol;
}
/** An admin action: 1 to 64 of `A-Z a-z 0-9 _ . : -`, starting with a letter or digit. */
export const ActionName = t.brand(
  t.string,
  (s): s is t.Branded<string, ActionNameBrand> => /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(s),
  'ActionName',
);
export type ActionName = t.TypeOf<typeof ActionName>;

/** An admin password as typed by a person: 1 to 1024 characters. */
const Password = t.refinement(t.string, (s) => s.length >= 1 && s.length <= 1024, 'Password');

/**
 * A NodeName or nothing: an optional field whose failure still reads
 * `…manager: expected NodeName` (an intersection with `t.partial` would put
 * its member index in the reported path).
 */
const OptionalNodeName = new t.Type<NodeName | undefined, string | undefined, unknown>(
  'NodeName',
  (u): u is NodeName | undefined => u === undefined || NodeName.is(u),
  (u, c) => (u === undefined ? t.success(undefined) : NodeName.validate(u, c)),
  (a) => a,
);

/** `POST /api/v1/login`: an admin's username and password (never the cluster secret), and optionally which manager issues the token. */
export const LoginBody = t.type({ username: Username, password: Password, manager: OptionalNodeName }, 'LoginBody');
export type LoginBody = t.TypeOf<typeof LoginBody>;

/** `/api/v1/cluster/:manager` and `/api/v1/cluster/:manager/events`. */
export const ManagerPath = t.type({ manager: NodeName }, 'ManagerPath');
export type ManagerPath = t.TypeOf<typeof ManagerPath>;

/** `/api/v1/cluster/:manager/admin/:node/:action`. */
export const AdminPath = t.type({ manager: NodeName, node: NodeName, action: ActionName }, 'AdminPath');
export type AdminPath = t.TypeOf<typeof AdminPath>;

/** The query of the status page: `/?manager=name`. */
export const PageQuery = t.partial({ manager: NodeName }, 'PageQuery');
export type PageQuery = t.TypeOf<typeof PageQuery>;

/**
 * Decodes `input` with `codec`; a failure is the reported paths joined into
 * one line (`LoginBody.username: expected Username`), never the value itself.
 */
export function decodeWith<A, O>(codec: t.Type<A, O, unknown>, input: unknown): Either<string, A> {
  const result = codec.decode(input);
  return isLeft(result) ? left(reportErrors(result.left).join('; ')) : right(result.right);
}
