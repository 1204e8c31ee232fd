(function_definition name: (word) @name) @definition.function

(command name: (command_name (word) @call))

(command name: (command_name (word) @_src) (#match? @_src "^(source|\\.)$") argument: (_) @import.module)

(program (variable_assignment name: (variable_name) @define))
(program (declaration_command (variable_assignment name: (variable_name) @define)))
