; Headings; sections are cut at every heading (see chunk.py: _chunk_markdown).
(atx_heading) @heading
(setext_heading) @heading
