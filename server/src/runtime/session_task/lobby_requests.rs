//! The lobby requests a session hands its task (create, join, quick-join,
//! claim a reserved seat), carried out here or, in a cluster, redirected
//! to the node that holds the room or should get the new one. The
//! decisions are the pure [`crate::cluster::placement`]'s over the last
//! heartbeat's directory; the reservations are
//! [`crate::cluster::reservation`]'s.

use std::sync::Arc;

use tickwire_shared::game::GameOptions;
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::{Role, RoomFilter, RoomTarget};
use tracing::{debug, info};

use super::{Joining, Task};
use crate::cluster::NodeRecord;
use crate::cluster::placement::{NodeLoad, QuickJoinQuery};
use crate::cluster::reservation::{ReservationError, Seat};
use crate::lobby::{LobbyError, NewRoom, QuickJoinPlan};
use crate::reason::Refusal;
use crate::runtime::cluster::{JoinRoute, QuickRoute};
use crate::runtime::now;
use crate::session::{Answer, Session};
use crate::transport::Link;

impl<L: Link + 'static> Task<L> {
    /// `CreateRoom`: here, or on the least-loaded node of the cluster.
    pub(super) async fn create_room(
        &mut self,
        session: &Session,
        request_id: u32,
        room: NewRoom,
        join_as: Option<Role>,
        join_options: GameOptions,
    ) -> Answer {
        let refused = |refusal: Refusal| Answer::Refused {
            request_id,
            refusal,
        };
        if let Some(node) = self.placement() {
            if let Err(e) = self.shared.games.find(room.game.as_deref()) {
                return refused(e.into());
            }
            if let Err(e) = self.shared.lobby().check_request(&room) {
                return refused(e.into());
            }
            let seat = Seat::Create {
                game: room.game,
                name: room.name,
                visibility: room.visibility,
                max_players: room.max_players,
                options: room.options,
                join_as,
                join_options,
            };
            return self.redirect(session, request_id, &node, seat, "create");
        }
        self.create_here(session, request_id, room, join_as, join_options)
            .await
    }

    /// Creates a room on this node, and joins it when asked.
    async fn create_here(
        &mut self,
        session: &Session,
        request_id: u32,
        room: NewRoom,
        join_as: Option<Role>,
        join_options: GameOptions,
    ) -> Answer {
        match (self.shared.create_room(room, session.peer().ip()), join_as) {
            (Err(refusal), _) => Answer::Refused {
                request_id,
                refusal,
            },
            (Ok(info), Some(role)) => {
                let join = Joining::new(session, role, join_options, request_id);
                self.join(session.player(), info.id, join).await
            }
            (Ok(info), None) => Answer::RoomCreated {
                request_id,
                room: info,
            },
        }
    }

    /// `JoinRoom`: by id (the id's tag names its node) or by code (this
    /// node's, else the directory's).
    pub(super) async fn join_room(
        &mut self,
        session: &Session,
        request_id: u32,
        target: RoomTarget,
        role: Role,
        join_options: GameOptions,
    ) -> Answer {
        let found = self.shared.lobby().find(target);
        let route = match (&self.shared.cluster, target, &found) {
            (Some(cluster), RoomTarget::Id(id), _) => cluster.route_id(id),
            (Some(cluster), RoomTarget::Code(code), Err(LobbyError::RoomNotFound)) => {
                cluster.route_code(code.as_str())
            }
            _ => JoinRoute::Local,
        };
        match route {
            JoinRoute::Remote(node, room) => {
                let seat = Seat::Join {
                    room: room.0,
                    role,
                    join_options,
                };
                let kind = match target {
                    RoomTarget::Id(_) => "join",
                    RoomTarget::Code(_) => "join_by_code",
                };
                self.redirect(session, request_id, &node, seat, kind)
            }
            JoinRoute::Gone => Answer::Refused {
                request_id,
                refusal: LobbyError::RoomNotFound.into(),
            },
            JoinRoute::Local => match found {
                Ok(room) => {
                    let join = Joining::new(session, role, join_options, request_id);
                    self.join(session.player(), room, join).await
                }
                Err(e) => Answer::Refused {
                    request_id,
                    refusal: e.into(),
                },
            },
        }
    }

    /// `QuickJoin`: the fullest fitting room in the cluster, or a new one
    /// on the least-loaded node.
    pub(super) async fn quick_join(
        &mut self,
        session: &Session,
        request_id: u32,
        filter: RoomFilter,
        options: GameOptions,
        join_options: GameOptions,
    ) -> Answer {
        let game = match self.shared.games.find(filter.game.as_deref()) {
            Ok(kind) => kind.name().to_owned(),
            Err(e) => {
                return Answer::Refused {
                    request_id,
                    refusal: e.into(),
                };
            }
        };
        let Some(cluster) = self.shared.cluster.clone() else {
            return self
                .quick_join_here(session, request_id, game, filter, options, join_options)
                .await;
        };
        let local = {
            let lobby = self.shared.lobby();
            let filter = RoomFilter {
                game: Some(game.clone()),
                metadata: filter.metadata.clone(),
            };
            lobby
                .quick_join_candidate(&filter, &options)
                .and_then(|room| lobby.seat_of(room).map(|(info, _)| (room, info.players)))
        };
        let query = QuickJoinQuery {
            game: &game,
            options: &options,
            metadata: &filter.metadata,
        };
        let (node, room) = match cluster.route_quick_join(local, query) {
            QuickRoute::Local(room) => {
                let join = Joining::new(session, Role::Player, join_options, request_id);
                return self.join(session.player(), room, join).await;
            }
            QuickRoute::Remote(node, room) => (node, Some(room.0)),
            QuickRoute::Create => match self.placement() {
                Some(node) => (node, None),
                None => {
                    return self
                        .quick_join_here(session, request_id, game, filter, options, join_options)
                        .await;
                }
            },
        };
        let seat = Seat::QuickJoin {
            room,
            game,
            options,
            metadata: filter.metadata,
            join_options,
        };
        self.redirect(session, request_id, &node, seat, "quick_join")
    }

    /// A quick-join on this node alone: its fullest fitting room, or a
    /// new one here.
    async fn quick_join_here(
        &mut self,
        session: &Session,
        request_id: u32,
        game: String,
        filter: RoomFilter,
        options: GameOptions,
        join_options: GameOptions,
    ) -> Answer {
        let plan = self
            .shared
            .lobby()
            .plan_quick_join(&game, filter.metadata, options);
        let room = match plan {
            QuickJoinPlan::Join(room) => Ok(room),
            QuickJoinPlan::Create(request) => self
                .shared
                .create_room(request, session.peer().ip())
                .map(|info| info.id),
        };
        match room {
            Ok(room) => {
                let join = Joining::new(session, Role::Player, join_options, request_id);
                self.join(session.player(), room, join).await
            }
            Err(refusal) => Answer::Refused {
                request_id,
                refusal,
            },
        }
    }

    /// `ClaimSeat`: checks the reservation (signed by the cluster, for this
    /// node and this account, unexpired, unused) and does what it says.
    pub(super) async fn claim_seat(
        &mut self,
        session: &Session,
        request_id: u32,
        reservation: &str,
    ) -> Answer {
        let metrics = Arc::clone(&self.shared.metrics);
        let claimed = match &self.shared.cluster {
            None => Err(ReservationError::OtherNode(
                "(none: not in a cluster)".into(),
            )),
            Some(cluster) => {
                let sub = session.identity().map(|i| i.subject.as_str());
                cluster.claim(reservation, sub, now().unix_us / 1_000)
            }
        };
        let reservation = match claimed {
            Ok(reservation) => reservation,
            Err(e) => {
                metrics.cluster_claim(e.label());
                info!(player = %session.player(), peer = %session.peer(), reason = %e, "seat reservation refused");
                return Answer::Refused {
                    request_id,
                    refusal: e.into(),
                };
            }
        };
        metrics.cluster_claim("ok");
        debug!(player = %session.player(), seat = ?reservation.seat, "seat reservation claimed");
        match reservation.seat {
            Seat::Join {
                room,
                role,
                join_options,
            } => {
                let join = Joining::new(session, role, join_options, request_id);
                self.join(session.player(), RoomId(room), join).await
            }
            Seat::QuickJoin {
                room,
                game,
                options,
                metadata,
                join_options,
            } => {
                if let Some(room) = room {
                    let join =
                        Joining::new(session, Role::Player, join_options.clone(), request_id);
                    match self.join(session.player(), RoomId(room), join).await {
                        // Filled (or closed, or locked) meanwhile: another
                        // room here, never a second redirect.
                        Answer::Refused { .. } => {}
                        answer => return answer,
                    }
                }
                let filter = RoomFilter {
                    game: Some(game.clone()),
                    metadata,
                };
                self.quick_join_here(session, request_id, game, filter, options, join_options)
                    .await
            }
            Seat::Create {
                game,
                name,
                visibility,
                max_players,
                options,
                join_as,
                join_options,
            } => {
                let room = NewRoom {
                    game,
                    name,
                    visibility,
                    max_players,
                    options,
                };
                self.create_here(session, request_id, room, join_as, join_options)
                    .await
            }
        }
    }

    /// The node a new room should go to, when it is not this one (in a
    /// cluster whose least-loaded open node is another).
    fn placement(&self) -> Option<NodeRecord> {
        let cluster = self.shared.cluster.as_ref()?;
        let own = {
            let lobby = self.shared.lobby();
            NodeLoad {
                id: cluster.node_id.clone(),
                players: u32::try_from(self.shared.metrics.players.get()).unwrap_or(u32::MAX),
                rooms: u32::try_from(lobby.len()).unwrap_or(u32::MAX),
                max_rooms: u32::try_from(self.shared.config.limits.max_rooms).unwrap_or(u32::MAX),
                draining: lobby.is_draining() || self.shared.draining.is_cancelled(),
            }
        };
        cluster.place_room(&own)
    }

    /// Sends the client to `node` with a reservation for `seat`.
    fn redirect(
        &self,
        session: &Session,
        request_id: u32,
        node: &NodeRecord,
        seat: Seat,
        kind: &'static str,
    ) -> Answer {
        let Some(cluster) = &self.shared.cluster else {
            return Answer::Refused {
                request_id,
                refusal: LobbyError::RoomNotFound.into(),
            };
        };
        let sub = session.identity().map(|i| i.subject.as_str());
        match cluster.redirect(request_id, node, seat, sub, now().unix_us / 1_000) {
            Ok(redirect) => {
                self.shared.metrics.cluster_redirect(kind);
                Answer::Redirect(redirect)
            }
            Err(e) => Answer::Refused {
                request_id,
                refusal: e.into(),
            },
        }
    }
}
