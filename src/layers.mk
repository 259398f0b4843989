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
LAYER_node       := common stun tunnel ice packet proto conf
