; inherits: javascript
(abstract_class_declaration name: (_) @name) @definition.class
(interface_declaration name: (_) @name) @definition.class
(enum_declaration name: (_) @name) @definition.class
(program (type_alias_declaration name: (type_identifier) @define))
(program (export_statement (type_alias_declaration name: (type_identifier) @define)))
