"""DHIS2 as a client sees it: the Web API's protocol (versioned paths, suffixes, ``fields``,
``filter``, ``order``, paging), its system and user routes, and its organisation units mapped to
the registry."""
