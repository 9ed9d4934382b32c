from critterops.cli import main

raise SystemExit(main())
