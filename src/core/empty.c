/* empty.c — placeholder source for a room that has no code yet. */
typedef int grt_empty_translation_unit;
