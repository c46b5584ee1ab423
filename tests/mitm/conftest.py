"""The mitm mode's fixtures, for these modules only: every test here runs with redline's config
directory (where the CA lives) in a temporary folder of its module, never the user's."""

from tests.mitm.support import (  # noqa: F401
    config_home,
    mitm,
    pki,
    redline_config,
    untrusted_pki,
)
