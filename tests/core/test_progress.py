from bluegreen.core.progress import building_note, size_text


def test_sizes_read_in_the_unit_that_fits():
    assert size_text(512) == "512 bytes"
    assert size_text(3_940_000) == "3.94 MB"  # a small table is not "0.00 GB"
    assert size_text(740_000) == "740 kB"
    assert size_text(12_345_678_901) == "12.3 GB"
    assert size_text(4_210_000_000) == "4.21 GB"


def test_building_notes_name_the_object_and_never_cut_a_statement():
    guarded = ("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = "
               "'\"public\".\"_bg4_s_new\"'::regclass AND contype = 'p') THEN ALTER TABLE "
               "public._bg4_s_new ADD CONSTRAINT _bg4_s_pkey PRIMARY KEY (id); END IF; END $$")
    assert building_note(guarded) == "building: constraint _bg4_s_pkey"
    assert building_note("CREATE INDEX IF NOT EXISTS _bg1_t_a_idx ON public._bg1_t_new (a)"
                         ) == "building: index _bg1_t_a_idx"
    assert building_note('CREATE UNIQUE INDEX IF NOT EXISTS "_bg1_Odd ""x" ON t (a)'
                         ) == 'building: unique index "_bg1_Odd ""x"'
    assert building_note("ALTER TABLE x\n  VALIDATE foo") == "building: ALTER TABLE x VALIDATE foo"
