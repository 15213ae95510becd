"""One module per engine; each fills in the hooks of :class:`socialcrm.store.engine.Engine`."""
