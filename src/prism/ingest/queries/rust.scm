(struct_item name: (_) @name) @definition.class
(enum_item name: (_) @name) @definition.class
(union_item name: (_) @name) @definition.class
(trait_item name: (_) @name) @definition.class
(impl_item type: [(type_identifier) @name (generic_type type: (type_identifier) @name) (scoped_type_identifier name: (type_identifier) @name)] body: (declaration_list)) @definition.class
(mod_item name: (_) @name body: (declaration_list)) @definition.class
(function_item name: (identifier) @name) @definition.function

(call_expression function: [(identifier) @call (field_expression field: (field_identifier) @call) (scoped_identifier name: (identifier) @call)])
(macro_invocation macro: (identifier) @call)

(use_declaration argument: (_) @import.module)
(extern_crate_declaration name: (identifier) @import.module)

(source_file (const_item name: (identifier) @define))
(source_file (static_item name: (identifier) @define))
(source_file (type_item name: (type_identifier) @define))
