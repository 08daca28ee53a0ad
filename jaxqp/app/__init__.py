"""The application: command line, configuration files, resumable sweeps, the demo.

- `cli`: the ``jaxqp`` command (``run``, ``fit``, ``demo``, ``bench``, ``info``).
- `configfile`: the error type and TOML reader of every configuration file;
  `runconfig` and `fitconfig` validate ``jaxqp run`` and
  ``jaxqp fit`` files section by section.
- `tasks`: what a ``jaxqp run`` task computes per sweep point;
  `runner` runs it in chunks sharded over devices, resumable after a kill.
- `sweep`: sharded bias sweeps of a wire's contact currents.
- `demo` and `bench`: the demo job and the built-in timings.

Imports: anything, including the public API of the top-level ``jaxqp`` package.
"""
