//! The room registry (pure): creating rooms, the public list, quick-join,
//! invite codes, and seat counts. It holds an opaque handle per room (the
//! runtime's channel to the room task) and never touches a socket or clock.
//!
//! Seats are reserved here before a client is handed to a room and released
//! when it leaves, so the counts the lobby shows and enforces are exact, and
//! a room is only removed when no seat is reserved in it.

pub mod creations;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Instant;

use tickwire_shared::game::GameOptions;
use tickwire_shared::ids::{RoomCode, RoomId};
use tickwire_shared::protocol::{
    ErrorCode, Metadata, Role, RoomFilter, RoomInfo, RoomTarget, Visibility,
};

use crate::config::Limits;
use creations::CreationLimiter;

/// Longest room name, bytes.
pub const MAX_ROOM_NAME: usize = 64;

/// Why a lobby request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LobbyError {
    /// No room with that id (public rooms) or code.
    #[error("no such room")]
    RoomNotFound,
    /// No free seat.
    #[error("room is full")]
    RoomFull,
    /// No free spectator place.
    #[error("room has no room for more spectators")]
    SpectatorsFull,
    /// The server's room limit is reached.
    #[error("the server runs its maximum number of rooms")]
    TooManyRooms,
    /// The room's name is empty or too long.
    #[error("invalid request: room name must be 1..={MAX_ROOM_NAME} bytes")]
    BadName,
    /// The room's seats are out of range.
    #[error("invalid request: max_players out of range")]
    BadSeats,
    /// The game locked the room.
    #[error("the room is locked")]
    RoomLocked,
    /// No game by that name runs here.
    #[error("no game {0:?} on this server")]
    UnknownGame(String),
    /// The server is draining before it stops: it takes no new rooms or
    /// members. The client should find another server (rooms already
    /// running play on).
    #[error("the server is draining before it stops: create or join a room on another server")]
    Draining,
    /// The client, or its address, created its most rooms this minute.
    #[error("at most {per_minute} rooms a minute per {scope}")]
    RateLimited {
        /// The allowance.
        per_minute: u32,
        /// Whose allowance.
        scope: RateScope,
    },
}

/// Whose room-creation allowance ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateScope {
    /// The client's (its session's).
    Client,
    /// Its IP address's, over all its clients.
    Address,
}

impl std::fmt::Display for RateScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Client => "client",
            Self::Address => "address",
        })
    }
}

impl LobbyError {
    /// The wire error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::RoomNotFound => ErrorCode::RoomNotFound,
            Self::RoomFull | Self::SpectatorsFull => ErrorCode::RoomFull,
            Self::TooManyRooms => ErrorCode::TooManyRooms,
            Self::BadName | Self::BadSeats => ErrorCode::InvalidRequest,
            Self::RoomLocked => ErrorCode::RoomLocked,
            Self::UnknownGame(_) => ErrorCode::UnknownGame,
            Self::Draining => ErrorCode::ServerDraining,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RoomNotFound => "room_not_found",
            Self::RoomFull | Self::SpectatorsFull => "room_full",
            Self::TooManyRooms => "too_many_rooms",
            Self::BadName | Self::BadSeats => "invalid_request",
            Self::RoomLocked => "room_locked",
            Self::UnknownGame(_) => "unknown_game",
            Self::Draining => "server_draining",
            Self::RateLimited { .. } => "room_rate_limited",
        }
    }
}

/// What a client asks for when creating a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRoom {
    /// The game, by name (`None`: the server's default game). The caller
    /// resolves it to a registered game before the lobby registers the
    /// room.
    pub game: Option<String>,
    /// Display name.
    pub name: String,
    /// Public or private.
    pub visibility: Visibility,
    /// Seats.
    pub max_players: u16,
    /// Game options.
    pub options: GameOptions,
}

/// Where a quick-join goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuickJoinPlan {
    /// Join this room.
    Join(RoomId),
    /// Create this room and join it.
    Create(NewRoom),
}

#[derive(Debug)]
struct Entry<H> {
    info: RoomInfo,
    code: RoomCode,
    handle: H,
}

/// All rooms of a server.
#[derive(Debug)]
pub struct Lobby<H> {
    rooms: BTreeMap<RoomId, Entry<H>>,
    by_code: HashMap<RoomCode, RoomId>,
    next_id: u32,
    /// The cluster tag of this node, in every room id's top bits (0 on a
    /// server running alone).
    node_tag: u32,
    max_rooms: usize,
    max_players: u16,
    max_spectators: u16,
    quick_join_size: u16,
    /// Set once a drain starts: no new room, no new member.
    draining: bool,
    creations: CreationLimiter,
}

impl<H> Lobby<H> {
    /// An empty lobby, bounded by `limits`.
    pub fn new(limits: &Limits) -> Self {
        Self {
            rooms: BTreeMap::new(),
            by_code: HashMap::new(),
            next_id: 1,
            node_tag: 0,
            max_rooms: limits.max_rooms,
            max_players: limits.max_players_per_room,
            max_spectators: limits.max_spectators_per_room,
            quick_join_size: limits.quick_join_room_size,
            draining: false,
            creations: CreationLimiter::new(
                limits.rooms_per_minute_per_ip,
                limits.max_tracked_addresses,
            ),
        }
    }

    /// The lobby of a cluster node tagged `node_tag`: its room ids carry
    /// the tag ([`RoomId::compose`]), so they are unique in the cluster.
    pub fn with_node_tag(mut self, node_tag: u32) -> Self {
        self.node_tag = node_tag;
        self
    }

    /// The tag this lobby's room ids carry.
    pub fn node_tag(&self) -> u32 {
        self.node_tag
    }

    /// Starts the drain: from now on every creation and every seat
    /// reservation (join, quick-join, spectate) is refused with
    /// [`LobbyError::Draining`]; members already seated stay. There is no
    /// way back: a draining server stops.
    pub fn start_draining(&mut self) {
        self.draining = true;
    }

    /// Whether the drain has started.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Players and spectators seated in all rooms: a drain ends early
    /// when this reaches 0.
    pub fn members(&self) -> usize {
        self.rooms
            .values()
            .map(|e| usize::from(e.info.players) + usize::from(e.info.spectators))
            .sum()
    }

    /// Checks a creation request against the limits (before the caller
    /// builds the game and the room task).
    pub fn check_new(&self, request: &NewRoom) -> Result<(), LobbyError> {
        if self.draining {
            return Err(LobbyError::Draining);
        }
        self.check_request(request)?;
        if self.rooms.len() >= self.max_rooms {
            return Err(LobbyError::TooManyRooms);
        }
        Ok(())
    }

    /// Checks a creation request on its own (name, seats), whatever this
    /// server's state: before sending it to another node of a cluster.
    pub fn check_request(&self, request: &NewRoom) -> Result<(), LobbyError> {
        let name = request.name.trim();
        if name.is_empty() || name.len() > MAX_ROOM_NAME {
            return Err(LobbyError::BadName);
        }
        if request.max_players == 0 || request.max_players > self.max_players {
            return Err(LobbyError::BadSeats);
        }
        Ok(())
    }

    /// Takes one room creation from `ip`'s allowance at `now` (after
    /// [`Lobby::check_new`], so invalid requests cost nothing).
    pub fn admit_creation(&mut self, ip: IpAddr, now: Instant) -> Result<(), LobbyError> {
        if self.creations.allow(ip, now) {
            Ok(())
        } else {
            Err(LobbyError::RateLimited {
                per_minute: self.creations.per_minute(),
                scope: RateScope::Address,
            })
        }
    }

    /// The id the next room will get.
    pub fn next_id(&self) -> RoomId {
        RoomId::compose(self.node_tag, self.next_id)
    }

    /// Registers a room running `game` (a registered game's name).
    /// `code_source` is asked for random numbers until one gives an unused
    /// code; `handle` is built for the new id. Returns the room's info, its
    /// code included.
    pub fn create(
        &mut self,
        game: &str,
        request: NewRoom,
        mut code_source: impl FnMut() -> u64,
        handle: impl FnOnce(RoomId) -> H,
    ) -> Result<RoomInfo, LobbyError> {
        self.check_new(&request)?;
        let id = self.next_id();
        self.next_id = self
            .next_id
            .checked_add(1)
            .ok_or(LobbyError::TooManyRooms)?;
        let code = loop {
            let code = RoomCode::from_index(code_source());
            if !self.by_code.contains_key(&code) {
                break code;
            }
        };
        let info = RoomInfo {
            id,
            code: Some(code),
            name: request.name.trim().to_owned(),
            game: game.to_owned(),
            visibility: request.visibility,
            players: 0,
            max_players: request.max_players,
            spectators: 0,
            options: request.options,
            metadata: Metadata::new(),
            locked: false,
        };
        self.by_code.insert(code, id);
        self.rooms.insert(
            id,
            Entry {
                info: info.clone(),
                code,
                handle: handle(id),
            },
        );
        Ok(info)
    }

    /// Finds the room a join targets: by id only when public, by code always.
    pub fn find(&self, target: RoomTarget) -> Result<RoomId, LobbyError> {
        let id = match target {
            RoomTarget::Code(code) => *self.by_code.get(&code).ok_or(LobbyError::RoomNotFound)?,
            RoomTarget::Id(id) => id,
        };
        match self.rooms.get(&id) {
            Some(e)
                if matches!(target, RoomTarget::Code(_))
                    || e.info.visibility == Visibility::Public =>
            {
                Ok(id)
            }
            _ => Err(LobbyError::RoomNotFound),
        }
    }

    /// Reserves a seat (or a spectator place) and returns the room's info
    /// (code included: the joiner is a member now) and handle. A locked
    /// room refuses, and so does a draining lobby.
    pub fn reserve(&mut self, room: RoomId, role: Role) -> Result<(RoomInfo, &H), LobbyError> {
        if self.draining {
            return Err(LobbyError::Draining);
        }
        let max_spectators = self.max_spectators;
        let entry = self.rooms.get_mut(&room).ok_or(LobbyError::RoomNotFound)?;
        if entry.info.locked {
            return Err(LobbyError::RoomLocked);
        }
        match role {
            Role::Player if entry.info.players >= entry.info.max_players => {
                return Err(LobbyError::RoomFull);
            }
            Role::Player => entry.info.players += 1,
            Role::Spectator if entry.info.spectators >= max_spectators => {
                return Err(LobbyError::SpectatorsFull);
            }
            Role::Spectator => entry.info.spectators += 1,
        }
        Ok((entry.info.clone(), &entry.handle))
    }

    /// A room's info (code included) and handle, for a member coming back
    /// to the seat it holds.
    pub fn seat_of(&self, room: RoomId) -> Option<(RoomInfo, &H)> {
        self.rooms
            .get(&room)
            .map(|entry| (entry.info.clone(), &entry.handle))
    }

    /// Gives back a seat reserved with [`Lobby::reserve`].
    pub fn release(&mut self, room: RoomId, role: Role) {
        if let Some(entry) = self.rooms.get_mut(&room) {
            let count = match role {
                Role::Player => &mut entry.info.players,
                Role::Spectator => &mut entry.info.spectators,
            };
            *count = count.saturating_sub(1);
        }
    }

    /// Where a quick-join for `game` (a registered game's name) goes: the
    /// fullest room that matches `metadata` and `options`
    /// ([`Lobby::quick_join_candidate`]), or a new public room of that game
    /// with those options.
    pub fn plan_quick_join(
        &self,
        game: &str,
        metadata: Metadata,
        options: GameOptions,
    ) -> QuickJoinPlan {
        let filter = RoomFilter {
            game: Some(game.to_owned()),
            metadata,
        };
        match self.quick_join_candidate(&filter, &options) {
            Some(room) => QuickJoinPlan::Join(room),
            None => QuickJoinPlan::Create(self.quick_join_room(filter.game, options)),
        }
    }

    /// The public, unlocked room with a free seat, created with `options`
    /// (equality on each key given; other keys are free) and passing
    /// `filter` (its game, its metadata), that has the most players
    /// (filling rooms before opening new ones), if any.
    pub fn quick_join_candidate(
        &self,
        filter: &RoomFilter,
        options: &GameOptions,
    ) -> Option<RoomId> {
        self.rooms
            .values()
            .filter(|e| {
                listed(&e.info)
                    && e.info.players < e.info.max_players
                    && options
                        .0
                        .iter()
                        .all(|(key, value)| e.info.options.0.get(key) == Some(value))
                    && filter.matches(&e.info)
            })
            .max_by_key(|e| (e.info.players, std::cmp::Reverse(e.info.id)))
            .map(|e| e.info.id)
    }

    /// The room a quick-join creates when no room fits.
    pub fn quick_join_room(&self, game: Option<String>, options: GameOptions) -> NewRoom {
        NewRoom {
            game,
            name: format!("quick {}", self.next_id),
            visibility: Visibility::Public,
            max_players: self.quick_join_size,
            options,
        }
    }

    /// Every room's invite code and id.
    pub fn codes(&self) -> impl Iterator<Item = (RoomCode, RoomId)> + '_ {
        self.by_code.iter().map(|(code, id)| (*code, *id))
    }

    /// Public, unlocked rooms passing `filter`, by id, without their codes.
    pub fn public_rooms(&self, filter: &RoomFilter) -> Vec<RoomInfo> {
        self.rooms
            .values()
            .filter(|e| listed(&e.info) && filter.matches(&e.info))
            .map(|e| RoomInfo {
                code: None,
                ..e.info.clone()
            })
            .collect()
    }

    /// Every room (private and locked ones too), without codes, for the
    /// operator's `/rooms`.
    pub fn all_rooms(&self) -> Vec<RoomInfo> {
        self.rooms
            .values()
            .map(|e| RoomInfo {
                code: None,
                ..e.info.clone()
            })
            .collect()
    }

    /// The game locked (true) or unlocked its room.
    pub fn set_locked(&mut self, room: RoomId, locked: bool) {
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.info.locked = locked;
        }
    }

    /// The game changed its room's public metadata.
    pub fn set_metadata(&mut self, room: RoomId, metadata: Metadata) {
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.info.metadata = metadata;
        }
    }

    /// Whether no seat or spectator place is reserved in the room.
    pub fn is_room_empty(&self, room: RoomId) -> bool {
        self.rooms
            .get(&room)
            .is_none_or(|e| e.info.players == 0 && e.info.spectators == 0)
    }

    /// Removes the room if nobody holds a place in it; returns whether it
    /// is gone.
    pub fn remove_if_empty(&mut self, room: RoomId) -> bool {
        if !self.is_room_empty(room) {
            return false;
        }
        self.remove(room);
        true
    }

    /// Removes the room whatever its seats (it has stopped).
    pub fn remove(&mut self, room: RoomId) -> Option<H> {
        let entry = self.rooms.remove(&room)?;
        self.by_code.remove(&entry.code);
        Some(entry.handle)
    }

    /// Rooms in all.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Whether there are no rooms.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

/// Whether a room shows in listings and quick-join: public and unlocked.
fn listed(room: &RoomInfo) -> bool {
    room.visibility == Visibility::Public && !room.locked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lobby() -> Lobby<u64> {
        let limits = Limits {
            max_rooms: 3,
            max_players_per_room: 4,
            max_spectators_per_room: 1,
            ..Limits::default()
        };
        Lobby::new(&limits)
    }

    fn room(name: &str, visibility: Visibility, max_players: u16) -> NewRoom {
        NewRoom {
            game: None,
            name: name.into(),
            visibility,
            max_players,
            options: GameOptions::default(),
        }
    }

    #[test]
    fn create_list_and_join_by_id_or_code() {
        let mut l = lobby();
        let mut n = 0;
        let public = l
            .create("arena", room("a", Visibility::Public, 2), || 7, |id| id.0)
            .unwrap();
        let private = l
            .create(
                "arena",
                room("b", Visibility::Private, 2),
                || {
                    n += 1;
                    7 + n
                },
                |id| id.0,
            )
            .unwrap();
        assert_ne!(
            public.code, private.code,
            "codes are unique even when the source repeats"
        );
        let listed = l.public_rooms(&RoomFilter::default());
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].code, None, "the list never shows codes");
        assert_eq!(l.find(RoomTarget::Id(public.id)), Ok(public.id));
        assert_eq!(
            l.find(RoomTarget::Id(private.id)),
            Err(LobbyError::RoomNotFound),
            "private by id"
        );
        assert_eq!(
            l.find(RoomTarget::Code(private.code.unwrap())),
            Ok(private.id)
        );
    }

    #[test]
    fn seats_and_spectators_are_bounded_and_released() {
        let mut l = lobby();
        let r = l
            .create("arena", room("a", Visibility::Public, 2), || 1, |id| id.0)
            .unwrap()
            .id;
        l.reserve(r, Role::Player).unwrap();
        l.reserve(r, Role::Player).unwrap();
        assert_eq!(
            l.reserve(r, Role::Player).unwrap_err(),
            LobbyError::RoomFull
        );
        l.reserve(r, Role::Spectator).unwrap();
        assert_eq!(
            l.reserve(r, Role::Spectator).unwrap_err(),
            LobbyError::SpectatorsFull
        );
        assert!(!l.remove_if_empty(r));
        l.release(r, Role::Player);
        l.release(r, Role::Player);
        l.release(r, Role::Spectator);
        assert!(l.remove_if_empty(r));
        assert_eq!(l.find(RoomTarget::Id(r)), Err(LobbyError::RoomNotFound));
    }

    #[test]
    fn a_draining_lobby_refuses_new_rooms_and_seats_but_keeps_its_members() {
        let mut l = lobby();
        let r = l
            .create("arena", room("a", Visibility::Public, 4), || 1, |id| id.0)
            .unwrap()
            .id;
        l.reserve(r, Role::Player).unwrap();
        l.reserve(r, Role::Spectator).unwrap();
        assert_eq!(l.members(), 2);
        l.start_draining();
        assert!(l.is_draining());
        let refused = l
            .create("arena", room("b", Visibility::Public, 4), || 2, |id| id.0)
            .unwrap_err();
        assert_eq!(refused, LobbyError::Draining);
        assert_eq!(refused.code(), ErrorCode::ServerDraining);
        assert_eq!(refused.kind(), "server_draining");
        assert_eq!(
            l.check_new(&room("c", Visibility::Public, 4)),
            Err(LobbyError::Draining)
        );
        for role in [Role::Player, Role::Spectator] {
            assert_eq!(l.reserve(r, role).unwrap_err(), LobbyError::Draining);
        }
        // Quick-join still plans (into the running room) and is refused
        // at the reservation.
        assert_eq!(
            l.plan_quick_join("arena", Metadata::new(), GameOptions::default()),
            QuickJoinPlan::Join(r)
        );
        assert_eq!(
            l.public_rooms(&RoomFilter::default()).len(),
            1,
            "still listed"
        );
        l.release(r, Role::Player);
        assert_eq!(l.members(), 1);
        l.release(r, Role::Spectator);
        assert_eq!(l.members(), 0, "the drain may end");
        assert!(l.remove_if_empty(r));
    }

    #[test]
    fn limits_and_bad_requests_are_refused() {
        let mut l = lobby();
        assert!(matches!(
            l.create("arena", room(" ", Visibility::Public, 2), || 1, |i| i.0),
            Err(LobbyError::BadName)
        ));
        assert!(matches!(
            l.create("arena", room("x", Visibility::Public, 5), || 1, |i| i.0),
            Err(LobbyError::BadSeats)
        ));
        assert!(matches!(
            l.create("arena", room("x", Visibility::Public, 0), || 1, |i| i.0),
            Err(LobbyError::BadSeats)
        ));
        let long = "x".repeat(MAX_ROOM_NAME + 1);
        assert!(
            l.create("arena", room(&long, Visibility::Public, 2), || 1, |i| i.0)
                .is_err()
        );
        let mut code = 0;
        for _ in 0..3 {
            l.create(
                "arena",
                room("x", Visibility::Public, 2),
                || {
                    code += 1;
                    code
                },
                |i| i.0,
            )
            .unwrap();
        }
        assert_eq!(
            l.create("arena", room("x", Visibility::Public, 2), || 99, |i| i.0)
                .unwrap_err(),
            LobbyError::TooManyRooms
        );
    }

    #[test]
    fn quick_join_fills_the_fullest_matching_public_room() {
        let mut l = lobby();
        let mut code = 0;
        let mut next = || {
            code += 1;
            code
        };
        let a = l
            .create("arena", room("a", Visibility::Public, 3), &mut next, |i| {
                i.0
            })
            .unwrap()
            .id;
        let b = l
            .create("arena", room("b", Visibility::Public, 3), &mut next, |i| {
                i.0
            })
            .unwrap()
            .id;
        let p = l
            .create("arena", room("p", Visibility::Private, 3), &mut next, |i| {
                i.0
            })
            .unwrap()
            .id;
        l.reserve(b, Role::Player).unwrap();
        l.reserve(p, Role::Player).unwrap();
        l.reserve(p, Role::Player).unwrap();
        let any = RoomFilter::default();
        let defaults = GameOptions::default();
        assert_eq!(l.quick_join_candidate(&any, &defaults), Some(b));
        l.reserve(b, Role::Player).unwrap();
        l.reserve(b, Role::Player).unwrap();
        assert_eq!(
            l.quick_join_candidate(&any, &defaults),
            Some(a),
            "b is full"
        );
        let other = GameOptions([("tick_rate".to_owned(), "60".to_owned())].into());
        assert_eq!(
            l.quick_join_candidate(&any, &other),
            None,
            "options must match"
        );
        assert_eq!(
            l.quick_join_room(None, other).max_players,
            Limits::default().quick_join_room_size
        );
    }

    #[test]
    fn listing_and_quick_join_filter_by_game_and_metadata_and_skip_locked_rooms() {
        let mut l = lobby();
        let a = l
            .create("arena", room("a", Visibility::Public, 3), || 1, |i| i.0)
            .unwrap()
            .id;
        let c = l
            .create("chat", room("c", Visibility::Public, 3), || 2, |i| i.0)
            .unwrap()
            .id;
        let d = l
            .create("chat", room("d", Visibility::Public, 3), || 3, |i| i.0)
            .unwrap()
            .id;
        l.set_metadata(
            c,
            Metadata::from([
                ("topic".into(), "rust".into()),
                ("lang".into(), "en".into()),
            ]),
        );
        l.set_metadata(d, Metadata::from([("topic".into(), "go".into())]));
        let ids = |rooms: Vec<RoomInfo>| rooms.iter().map(|r| r.id).collect::<Vec<_>>();
        let chat = RoomFilter {
            game: Some("chat".into()),
            metadata: Metadata::new(),
        };
        assert_eq!(ids(l.public_rooms(&chat)), vec![c, d]);
        let rust = RoomFilter {
            game: None,
            metadata: Metadata::from([("topic".into(), "rust".into())]),
        };
        assert_eq!(
            ids(l.public_rooms(&rust)),
            vec![c],
            "equality on the given keys"
        );
        let defaults = GameOptions::default();
        assert_eq!(l.quick_join_candidate(&rust, &defaults), Some(c));
        l.set_locked(c, true);
        assert_eq!(
            ids(l.public_rooms(&chat)),
            vec![d],
            "locked rooms are not listed"
        );
        assert_eq!(
            l.quick_join_candidate(&rust, &defaults),
            None,
            "nor quick-joined"
        );
        assert_eq!(
            l.reserve(c, Role::Player).unwrap_err(),
            LobbyError::RoomLocked
        );
        assert_eq!(l.all_rooms().len(), 3, "the operator sees every room");
        l.set_locked(c, false);
        assert!(l.reserve(c, Role::Player).is_ok());
        assert_eq!(ids(l.public_rooms(&RoomFilter::default())), vec![a, c, d]);
    }
}
