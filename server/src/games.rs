//! The games a server hosts, by name ([`Games`]): a studio registers each
//! [`Game`] type with its server-wide config, and clients create, list
//! and quick-join rooms by the game's [`Game::NAME`]. The first game
//! registered is the default (what a request naming no game gets). Each
//! room's tick loop is compiled for its game's type; only room creation
//! goes through the registry.

use std::fmt;
use std::sync::Arc;

use tickwire_shared::game::Game;
use tickwire_shared::protocol::RoomInfo;

use crate::error::ServerError;
use crate::lobby::{LobbyError, NewRoom};
use crate::reason::Refusal;
use crate::runtime::Shared;

/// One registered game, as the runtime creates its rooms.
pub(crate) trait GameKind: Send + Sync + 'static {
    /// The game's name.
    fn name(&self) -> &'static str;
    /// Creates a room of this game and starts its task.
    fn create_room(
        &self,
        shared: &Arc<Shared>,
        request: NewRoom,
        creator: std::net::IpAddr,
    ) -> Result<RoomInfo, Refusal>;
}

/// A game type with its server-wide config.
struct Registered<G: Game> {
    config: G::Config,
}

impl<G: Game> GameKind for Registered<G> {
    fn name(&self) -> &'static str {
        G::NAME
    }

    fn create_room(
        &self,
        shared: &Arc<Shared>,
        request: NewRoom,
        creator: std::net::IpAddr,
    ) -> Result<RoomInfo, Refusal> {
        crate::runtime::create_room::<G>(shared, &self.config, request, creator)
    }
}

/// The games one server hosts. See the module doc.
///
/// ```
/// use tickwire_server::Games;
/// use tickwire_shared::arena::{Arena, ArenaConfig};
/// use tickwire_shared::chat::Chat;
///
/// let games = Games::new().with::<Arena>(ArenaConfig::default()).with::<Chat>(());
/// assert_eq!(games.names(), ["arena", "chat"]);
/// assert_eq!(games.default_game(), Some("arena"));
/// ```
#[derive(Clone, Default)]
pub struct Games {
    kinds: Vec<Arc<dyn GameKind>>,
}

impl fmt::Debug for Games {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Games {
    /// No game yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers game `G` with the config its rooms start from. A second
    /// game with the same name is refused when the server binds.
    #[must_use]
    pub fn with<G: Game>(mut self, config: G::Config) -> Self {
        self.kinds.push(Arc::new(Registered::<G> { config }));
        self
    }

    /// The names of the games, default first.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.name()).collect()
    }

    /// The default game's name.
    pub fn default_game(&self) -> Option<&'static str> {
        self.kinds.first().map(|k| k.name())
    }

    /// At least one game, and no name twice.
    pub(crate) fn check(&self) -> Result<(), ServerError> {
        let names = self.names();
        if names.is_empty() {
            return Err(ServerError::NoGames);
        }
        match names
            .iter()
            .enumerate()
            .find(|(i, name)| names[..*i].contains(name))
        {
            Some((_, name)) => Err(ServerError::DuplicateGame(name)),
            None => Ok(()),
        }
    }

    /// The game called `name`, or the default one for `None`.
    pub(crate) fn find(&self, name: Option<&str>) -> Result<&Arc<dyn GameKind>, LobbyError> {
        match name {
            None => self.kinds.first(),
            Some(name) => self.kinds.iter().find(|k| k.name() == name),
        }
        .ok_or_else(|| LobbyError::UnknownGame(name.unwrap_or_default().to_owned()))
    }
}
