export { reduceMembership } from './reduce.js';
export { membersView, nodeView, type ApiClusterNode } from './snapshot.js';
export {
  STATUS,
  countsOf,
  isLinked,
  initialMembership,
  type LinkRef,
  type MembershipEffect,
  type MembershipInput,
  type MembershipState,
  type MembershipStep,
  type PeerState,
  type Status,
} from './state.js';
