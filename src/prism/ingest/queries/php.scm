(class_declaration name: (name) @name) @definition.class
(interface_declaration name: (name) @name) @definition.class
(trait_declaration name: (name) @name) @definition.class
(enum_declaration name: (name) @name) @definition.class
(method_declaration name: (name) @name body: (compound_statement)) @definition.function
(function_definition name: (name) @name) @definition.function

(function_call_expression function: [(name) @call (qualified_name (name) @call .)])
(member_call_expression name: (name) @call)
(scoped_call_expression name: (name) @call)
(nullsafe_member_call_expression name: (name) @call)
(object_creation_expression [(name) @call (qualified_name (name) @call .)])

(namespace_use_clause) @import.module

(program (const_declaration (const_element (name) @define)))
