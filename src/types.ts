import type { ApiClusterNode } from './membership/snapshot.js';
import type { LeaveReason } from './session/link.js';
import type { Settings } from './settings.js';

/** A private message for one node (the seed's NodeMessage). */
export interface NodeMessage {
  readonly node: string;
  readonly message: unknown;
}

/** An admin request that came through the HTTP API (the seed's APIRequest). */
export interface ApiRequest {
  readonly action: string;
  readonly manager: string;
  readonly node: string;
  readonly data: string;
}

/** A join, a leave (with its reason) or a metadata update, as `membership$` tells it. */
export type MembershipEvent =
  | { readonly type: 'join'; readonly node: string; readonly time: Date }
  | { readonly type: 'leave'; readonly node: string; readonly reason: LeaveReason; readonly time: Date }
  | { readonly type: 'update'; readonly node: string; readonly metadata: Readonly<Record<string, unknown>>; readonly time: Date }
  /** A joined peer has been silent for readTimeout; it stays a member until its peers confirm or it speaks again. */
  | { readonly type: 'suspect'; readonly node: string; readonly time: Date }
  /** A suspected peer spoke again: the suspicion is cleared. */
  | { readonly type: 'alive'; readonly node: string; readonly time: Date };

/** The state dump of `stateDump()`. */
export interface StateDump {
  readonly name: string;
  readonly state: 'new' | 'listening' | 'stopping' | 'stopped';
  readonly address: string | null;
  readonly quorum: boolean;
  readonly settings: Settings;
  readonly nodes: Record<string, ApiClusterNode>;
}
