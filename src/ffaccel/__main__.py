from ffaccel.cli import main

raise SystemExit(main())
