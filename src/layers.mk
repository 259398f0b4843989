# The layers of ipop's source tree, bottom up. A folder may include headers
# from itself and from the folders listed after its name, nothing else, so
# no include points up a layer. The Makefile gives each folder only these
# include paths, and `make check-layers` (tests/check_layers.sh) reports an
# include that points elsewhere with the reason. Lists are complete (not
# transitive): name every folder a layer uses.
LAYER_common     :=
LAYER_stun       := common
LAYER_tunnel     := common
LAYER_packet     := common
LAYER_proto      := common
LAYER_conf       := common
LAYER_ice        := common stun
LAYER_turnserver := common stun
LAYER_ctl        := common stun proto conf

# ipopd in rooms (docs/architecture.md): the link core (sans-IO), the
# bases (sockets, STUN gathering, TURN relays, netmon), the signalling
# thread, SocialVPN, the data path, and the daemon that wires them.
LAYER_node/link     := common stun tunnel ice proto packet
LAYER_node/overlay  := common
LAYER_node/bases    := common stun ice conf node/link
LAYER_node/xmpp     := common proto
LAYER_node/social   := common tunnel ice stun proto packet conf node/link node/xmpp
LAYER_node/datapath := common stun tunnel ice packet proto conf node/link node/overlay node/bases node/social
LAYER_node/daemon   := common stun tunnel ice packet proto conf node/link node/overlay node/bases node/xmpp node/social node/datapath
